/**
 * The host-side benchmark rig: the bridge in its own process (server-mode
 * chip, doorbells only: poll_ms is a minute), a fake guest joined to its
 * ivshmem server as a real peer that binds and acknowledges like the
 * driver (acknowledges raised lines in irq_ack, rings the host when ack_req asks), and an MQTT
 * probe. With `broker` set the bridge uses that external broker instead of
 * its embedded one. The embedded broker runs without its per-client
 * publish rate limit (broker.max_publish_rate), which would otherwise cap
 * both the bare hop and the commands at 1000 messages/s: the benchmark
 * measures the bridge, not the limit.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IvshmemClient, protocol } from '../native/index.ts';
import { FakeGuest } from '../testkit/fake-guest.ts';
// Raw MQTT (MqttProbe), not the typed client: it times the raw `.../set` path, without the client's wait for an answer.
import { MqttProbe } from '../testkit/mqtt-probe.ts';
import { freePort } from '../testkit/ports.ts';
import { BridgeProcess, type BridgeBuild } from './bridge-process.ts';
import { noDelay } from '../bridge/mqtt/no-delay.ts';
import { Topics } from '../bridge/mqtt/topics.ts';

export const BASE = 'bench';
export const topics = new Topics(BASE);
export const CHIP = 'board';
export const NGPIO = 32;
/** A host-driven input the fake guest watches for both edges. */
export const BUTTON = 0;
/** An output the fake guest drives. */
export const LED = 1;
/** Lines 2..31: host-driven inputs used round-robin by the throughput benchmark. */
export const SPARE_LINES = Array.from({ length: NGPIO - 2 }, (_, i) => i + 2);
export const QUEUE_LIMIT = 1024;

export class HostRig {
  readonly dir: string;
  readonly url: string;
  readonly bridge: BridgeProcess;
  readonly client: IvshmemClient;
  readonly guest: FakeGuest;
  readonly probe: MqttProbe;
  /**
   * Publishes the commands and subscribes to nothing, like the bare hop's
   * publisher: on a connection that also receives the bridge's edges,
   * Mosquitto as shipped (Nagle on) holds the next PUBACK behind an edge
   * the client has not acknowledged yet, until its delayed ACK ~40 ms
   * later, so every other sample would start from an idle, cold system.
   */
  readonly commander: MqttClient;
  /** Pend bits the fake guest acknowledged, per line: edges delivered to the guest. */
  readonly delivered = new Array<number>(NGPIO).fill(0);
  deliveredTotal = 0;
  /** Called on every ring from the bridge, after the acknowledgement, with the hrtime of the ring. */
  onRing: ((at: bigint) => void) | undefined;
  /** The level the fake guest drives on LED. */
  ledLevel: 0 | 1 = 0;

  private constructor(dir: string, url: string, bridge: BridgeProcess, client: IvshmemClient, probe: MqttProbe, commander: MqttClient) {
    this.commander = commander;
    this.dir = dir;
    this.url = url;
    this.bridge = bridge;
    this.client = client;
    this.probe = probe;
    this.guest = new FakeGuest(client.shm, client);
    client.on('ring', () => {
      const at = process.hrtime.bigint();
      for (const line of this.guest.ack()) {
        this.delivered[line] = (this.delivered[line] ?? 0) + 1;
        this.deliveredTotal += 1;
      }
      this.onRing?.(at);
    });
  }

  /**
   * `broker`: an external broker for everything; `cluster`: the bridge is
   * given the nodes `bridge` (it connects to the first, which the rig's
   * subscriber uses too) and the commands go in through the node `commands`.
   */
  static async start(options: { build: BridgeBuild; broker?: string; cluster?: { bridge: readonly string[]; commands: string } }): Promise<HostRig> {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-bench-'));
    try {
      const port = await freePort();
      const external = options.cluster === undefined ? options.broker : options.cluster.bridge.join(',');
      const url = options.cluster?.bridge[0] ?? options.broker ?? `mqtt://127.0.0.1:${port}`;
      const lines = [`      - { line: ${BUTTON}, name: button }`, `      - { line: ${LED}, name: led, direction: output }`].join('\n');
      const config = `base_topic: ${BASE}
log_level: warn
${external === undefined ? `broker: { port: ${port}, max_publish_rate: null }` : `mqtt: { server: '${external}', client_id: bench-bridge-${process.pid}, reconnect_ms: 500 }`}
metrics: { port: ${await freePort()} }
web: { enabled: false }
homeassistant: { enabled: false }
chips:
  - name: ${CHIP}
    ngpio: ${NGPIO}
    socket: ${dir}/board.sock
    shm: ${dir}/board.shm
    poll_ms: 60000
    queue_limit: ${QUEUE_LIMIT}
    lines:
${lines}
`;
      const bridge = await BridgeProcess.start({ config, dir, url, baseTopic: BASE, build: options.build });
      const client = await IvshmemClient.connect(join(dir, 'board.sock'));
      const probe = await MqttProbe.connect(url, [topics.lineFilter('edge', CHIP), topics.state(CHIP, 'led'), topics.availability(CHIP), topics.bridgeEvent]);
      noDelay(probe.client);
      const commander = noDelay(await mqtt.connectAsync(options.cluster?.commands ?? url, { reconnectPeriod: 0 }));
      const rig = new HostRig(dir, url, bridge, client, probe, commander);
      rig.guest.bind();
      rig.guest.enableIrq(BUTTON, { rising: true, falling: true });
      for (const line of SPARE_LINES) rig.guest.enableIrq(line, { rising: true, falling: true });
      rig.guest.setDirection(LED, true, false);
      rig.guest.setOutput(LED, 0, false);
      rig.guest.ringHost();
      await probe.waitFor(topics.availability(CHIP), (p) => p === 'online', 10_000);
      return rig;
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Commands the bridge refused so far (bridge/event command_rejected). */
  rejected(from = 0): number {
    return this.probe.on(topics.bridgeEvent, from).filter((m) => m.payload.includes('command_rejected')).length;
  }

  /** Entries the fake guest dropped because the event ring was full. */
  get ringDropped(): number {
    return this.client.shm.load32(this.client.shm.load32(protocol.HDR_RING_OFF) + protocol.RING_DROPPED);
  }

  /** Free entries in the event ring. */
  get ringFree(): number {
    const mem = this.client.shm;
    const ringOff = mem.load32(protocol.HDR_RING_OFF);
    const used = (mem.load32(ringOff + protocol.RING_HEAD) - mem.load32(ringOff + protocol.RING_TAIL)) >>> 0;
    return mem.load32(protocol.HDR_RING_LEN) - used;
  }

  async close(): Promise<void> {
    await this.commander.endAsync().catch(() => undefined);
    await this.probe.close().catch(() => undefined);
    await this.client.close().catch(() => undefined);
    await this.bridge.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
