/**
 * vgpio-agent in a real TCG guest with the real driver: vgpio.ko on an
 * ivshmem-plain region (polling mode) whose input lines this test drives
 * through the bridge's shared-memory layer, the agent started by the
 * initramfs and connected over virtio-serial (the guest has no network)
 * to a unix socket this test hands to the embedded broker, as the bridge
 * does. Checks: online/will, every edge of a long run of toggles with
 * consecutive sequence numbers, line-info events for another program's
 * gpioset, and delivery after the host side of the port goes away.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { EmbeddedBroker } from '../../broker/embedded.ts';
import { InputDriver } from '../../bridge/shm/input-driver.ts';
import { LineRegisters, type Level } from '../../bridge/shm/line-registers.ts';
import { VgpioRegion } from '../../bridge/shm/region.ts';
import { protocol, SharedMemory } from '../../native/index.ts';
import { buildAgent } from '../../testkit/agent.ts';
import { Guest } from '../../testkit/guest.ts';
import { guestKernel, repoRoot } from '../../testkit/kernel.ts';

const CHIP = 'agentchip';
const NAMES = ['button0', 'button1', 'in2', 'in3', 'in4', 'in5', 'spare', 'relay'];
const TOGGLES = 200;

interface LineInfo {
  event: string;
  guest_ns?: number;
  consumer: string;
  direction: string;
  used: boolean;
}

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/** Builds kernel/vgpio.ko for the guest kernel in a scratch copy of kernel/. */
function buildDriver(dir: string): string {
  const src = join(repoRoot, 'kernel');
  if (!existsSync(join(src, 'Kbuild'))) {
    throw new Error('kernel/ holds no vgpio.ko sources yet: this test needs the driver (branch kernel)');
  }
  const build = join(dir, 'kernel');
  cpSync(src, build, { recursive: true });
  try {
    execFileSync('make', ['-C', build, `KDIR=${guestKernel().headersDir}`], { stdio: 'pipe', encoding: 'utf8' });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    throw new Error(`building vgpio.ko failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
  return join(build, 'vgpio.ko');
}

describe('vgpio-agent in a guest, over virtio-serial', () => {
  let dir: string;
  let guest: Guest;
  let broker: EmbeddedBroker;
  let server: Server | undefined;
  let socketPath: string;
  const sockets = new Set<Socket>();
  let mem: SharedMemory;
  let lines: LineRegisters;
  let inputs: InputDriver;
  let pump: NodeJS.Timeout;
  let sub: MqttClient;
  const received: Received[] = [];

  const listen = async (): Promise<void> => {
    const s = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      broker.handle(socket);
    });
    server = s;
    await new Promise<void>((resolve) => s.listen(socketPath, resolve));
  };

  /** Waits until `count` messages match `filter`; returns them. */
  const waitMessages = async (filter: (m: Received) => boolean, count: number, timeoutMs: number): Promise<Received[]> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = received.filter(filter);
      if (got.length >= count) return got;
      if (Date.now() > deadline) {
        throw new Error(`got ${got.length} of ${count} messages within ${timeoutMs} ms; last: ${JSON.stringify(got.slice(-3))}\nguest console:\n${guest.console.tail(4000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-agent-guest-'));
    const { agent } = buildAgent();
    const ko = buildDriver(dir);

    const shmPath = join(dir, 'shm');
    const size = VgpioRegion.requiredSize(NAMES.length);
    mem = SharedMemory.open(shmPath, { size, create: true });
    const region = VgpioRegion.initialise(mem, { ngpio: NAMES.length, label: CHIP, names: NAMES, doorbell: false, hostPeer: protocol.PEER_NONE });
    lines = new LineRegisters(mem, region.layout.bankOff, NAMES.length);
    inputs = new InputDriver(lines, { queueLimit: 4 * TOGGLES, doorbell: () => undefined });
    // Polling mode: the host moves queued changes on from a timer, as the bridge does.
    pump = setInterval(() => {
      inputs.acknowledged();
    }, 1);

    broker = await EmbeddedBroker.start({ tcp: { host: '127.0.0.1', port: 0 }, ws: null, tls: null, users: [], persistenceDir: null });
    socketPath = join(dir, 'agent.sock');
    await listen();
    sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.addresses.tcp?.port ?? 0}`, { reconnectPeriod: 0 });
    sub.on('message', (topic, payload, packet) => {
      received.push({ topic, payload: payload.toString(), retain: packet.retain });
    });
    await sub.subscribeAsync('vgpio2mqtt/#', { qos: 1 });

    guest = await Guest.boot({
      modules: ['virtio_pci', 'virtio_console'],
      binaries: ['/usr/bin/gpioset'],
      files: [
        { dest: '/lib/vgpio.ko', src: ko, mode: 0o644 },
        { dest: '/usr/bin/vgpio-agent', src: agent, mode: 0o755 },
      ],
      initCommands: [
        'insmod /lib/vgpio.ko poll_ms=1',
        // Lines held through sysfs before the agent starts: the agent leaves them alone and reports them.
        'base=$(cat /sys/class/gpio/gpiochip*/base)',
        'echo $((base + 6)) > /sys/class/gpio/export',
        'echo $((base + 7)) > /sys/class/gpio/export',
        'vgpio-agent --reconnect-max 2 --keepalive 5 > /tmp/agent.log 2>&1 &',
      ],
      qemuArgs: [
        '-object', `memory-backend-file,id=hostmem,size=${size},mem-path=${shmPath},share=on`,
        '-device', 'ivshmem-plain,memdev=hostmem',
        '-chardev', `socket,id=agent,path=${socketPath},reconnect=1`,
        '-device', 'virtio-serial-pci',
        '-device', 'virtserialport,chardev=agent,name=vgpio2mqtt',
      ],
    });
  });

  after(async () => {
    clearInterval(pump);
    await guest.close();
    await sub.endAsync(true);
    const closed = new Promise((resolve) => {
      if (server) server.close(resolve);
      else resolve(undefined);
    });
    for (const s of sockets) s.destroy();
    await closed;
    await broker.close();
    mem.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts at boot, watches the free lines and says it is online', async () => {
    await waitMessages((m) => m.topic === `vgpio2mqtt/${CHIP}/agent` && m.payload === 'online', 1, 60_000);
    const log = await guest.exec('cat /tmp/agent.log');
    assert.match(log, /watching 6 line\(s\) for both edges/);
    assert.match(log, /line relay is in use by 'sysfs'; not watching its edges/);
    assert.match(log, /connected to broker \/dev\/virtio-ports\/vgpio2mqtt/);
  });

  it(`publishes all ${TOGGLES} edges of a run of host toggles, in order, with consecutive sequence numbers`, async () => {
    const topic = `vgpio2mqtt/${CHIP}/button0/agent/edge`;
    for (let i = 0; i < TOGGLES; i++) {
      const result = inputs.set(0, ((i + 1) % 2) as Level);
      assert.notEqual(result, 'overflow');
      assert.notEqual(result, 'unchanged');
    }
    const all = (await waitMessages((m) => m.topic === topic, TOGGLES, 120_000)).map(
      (m) => JSON.parse(m.payload) as { edge: string; seq: number; request_seq: number; guest_ns: number; clock: string; line: number },
    );
    // QoS 1 is at-least-once: after a reconnect the agent resends what the
    // broker had not acknowledged, so one kernel event (same seq and
    // timestamp) may arrive twice. An invented edge would carry its own seq.
    const edges = all.filter((e, i) => all.findIndex((o) => o.seq === e.seq && o.guest_ns === e.guest_ns) === i);
    assert.equal(edges.length, TOGGLES, `more edges than toggles: invented edges:\n${edges.map((e) => JSON.stringify(e)).join('\n')}`);
    const first = edges[0]?.seq ?? 0;
    edges.forEach((e, i) => {
      assert.equal(e.seq, first + i, `edge ${i}: sequence gap (dropped events)`);
      assert.equal(e.edge, i % 2 === 0 ? 'rising' : 'falling');
      assert.deepEqual(Object.keys(e).sort(), ['clock', 'edge', 'guest_ns', 'line', 'request_seq', 'seq']);
      assert.equal(e.clock, 'monotonic');
      assert.equal(e.line, 0);
      if (i > 0) assert.ok(e.guest_ns >= (edges[i - 1]?.guest_ns ?? 0), 'timestamps go backwards');
    });
  });

  it("publishes another program's requests and releases as line-info events", async () => {
    const topic = `vgpio2mqtt/${CHIP}/relay/agent/lineinfo`;
    const info = (m: Received): LineInfo => JSON.parse(m.payload) as LineInfo;
    const only = async (event: string, count: number): Promise<LineInfo> => {
      const got = await waitMessages((m) => m.topic === topic && info(m).event === event, count, 20_000);
      const last = got.at(-1);
      assert.ok(last);
      return info(last);
    };
    // Held through sysfs since boot: reported when the agent connected.
    const current = await only('current', 1);
    assert.deepEqual([current.consumer, current.used], ['sysfs', true]);
    assert.equal(current.guest_ns, undefined, 'a line held already has no change time');
    await guest.exec('echo $(( $(cat /sys/class/gpio/gpiochip*/base) + 7 )) > /sys/class/gpio/unexport');
    const released = await only('released', 1);
    assert.equal(released.used, false);
    assert.equal(typeof released.guest_ns, 'number');
    assert.deepEqual(Object.keys(released).sort(), ['active_low', 'bias', 'consumer', 'debounce_us', 'direction', 'drive', 'edge', 'event', 'guest_ns', 'line', 'source', 'used']);
    // Another program takes the line, drives it, and lets it go.
    await guest.exec(`gpioset ${CHIP} 7=1`);
    const requested = await only('requested', 1);
    assert.deepEqual([requested.consumer, requested.direction, requested.used], ['gpioset', 'output', true]);
    await only('released', 2);
  });

  it('refuses clearly a line that is in use or does not exist', async () => {
    const inUse = await guest.run(`vgpio-agent --watch ${CHIP}:button0 --broker /dev/null`);
    assert.equal(inUse.code, 1);
    assert.match(inUse.output, new RegExp(`${CHIP}: line button0 \\(offset 0\\) is in use by 'vgpio-agent'`));
    const missing = await guest.run(`vgpio-agent --watch ${CHIP}:nosuch --broker /dev/null`);
    assert.equal(missing.code, 1);
    assert.match(missing.output, new RegExp(`${CHIP} \\(gpiochip0\\) has no line 'nosuch' \\(8 lines`));
  });

  it('keeps the edges while the host side of the port is away and delivers them when it returns', async () => {
    const agentTopic = `vgpio2mqtt/${CHIP}/agent`;
    const onlineBefore = received.filter((m) => m.topic === agentTopic && m.payload === 'online').length;
    // The bridge goes away: the listening socket and the agent's connection close.
    // (close() waits for open connections, so destroy them first.)
    const s = server;
    server = undefined;
    const closed = new Promise((resolve) => s?.close(resolve));
    for (const socket of sockets) socket.destroy();
    await closed;
    await waitMessages((m) => m.topic === agentTopic && m.payload === 'offline', 1, 20_000);

    const topic = `vgpio2mqtt/${CHIP}/button1/agent/edge`;
    for (let i = 0; i < 20; i++) inputs.set(1, ((i + 1) % 2) as Level);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(received.filter((m) => m.topic === topic).length, 0, 'edges arrived with no broker');

    await listen();
    await waitMessages((m) => m.topic === agentTopic && m.payload === 'online', onlineBefore + 1, 60_000);
    const edges = (await waitMessages((m) => m.topic === topic, 20, 60_000)).map((m) => JSON.parse(m.payload) as { seq: number });
    const first = edges[0]?.seq ?? 0;
    assert.deepEqual(edges.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => first + i));
    assert.match(await guest.exec('cat /tmp/agent.log'), /retrying in/);
    // Each connect reports again the line that is still held.
    const spare = received.filter((m) => m.topic === `vgpio2mqtt/${CHIP}/spare/agent/lineinfo`).map((m) => JSON.parse(m.payload) as LineInfo);
    assert.equal(spare.filter((i) => i.event === 'current' && i.consumer === 'sysfs' && i.used).length, 2, JSON.stringify(spare));
  });
});
