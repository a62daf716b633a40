/**
 * End to end in a real TCG guest: `.../set` published -> the bridge (its own
 * process, embedded broker) -> vgpio.ko -> `gpiomon` in the guest prints
 * the edge on the serial console -> the host reads it. The raw baseline, in
 * the same boot: a second vgpio device whose region this process owns
 * (testkit/vgpio-host.ts's HostRegion), the host writing `in`, raising
 * the line and ringing the guest directly through the addon, no MQTT, and
 * a second gpiomon. In doorbell mode a third path, the stand-in bridge
 * (bench/stand-in-device.ts): another process with an embedded broker of
 * its own that owns a third device and drives it with the raw path's code
 * for each MQTT message, so that the MQTT hop into another process is
 * timed apart from the bridge's work. The paths are sampled in turn.
 *
 * The same again with the guest agent reporting instead of the console:
 * `vgpio-agent` watches a second line of each chip and publishes its edges
 * over virtio-serial, piped here to the bridge's embedded broker, so the
 * edge comes back as the agent's MQTT message.
 *
 * `doorbell` mode attaches both devices as ivshmem-doorbell (the bridge's
 * own ivshmem server, and an IvshmemServer here for the raw device);
 * `polling` as ivshmem-plain with the driver's poll_ms=5 (and the bridge's
 * chip in plain mode). The guest is x86_64, or an arm64 one on QEMU's virt
 * board (`arch`).
 */
import { execFile } from 'node:child_process';
import mqtt from 'mqtt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IvshmemServer, protocol } from '../native/index.ts';
import { loadSettings } from '../bridge/settings/load.ts';
import { qemuArgs } from '../bridge/guest-setup/qemu-args.ts';
import { buildAgent } from '../testkit/agent.ts';
import type { GuestArch } from '../testkit/arch.ts';
import { Guest } from '../testkit/guest.ts';
import { guestKernel } from '../testkit/kernel.ts';
// Raw MQTT (MqttProbe), not the typed client: it times the raw `.../set` path, without the client's wait for an answer.
import { MqttProbe } from '../testkit/mqtt-probe.ts';
import { freePort } from '../testkit/ports.ts';
import { buildVgpio } from '../testkit/build-module.ts';
import { GPIOD_TOOLS, HostRegion, plainDeviceArgs, until } from '../testkit/vgpio-host.ts';
import { BridgeProcess, type BridgeBuild } from './bridge-process.ts';
import { noDelay } from '../bridge/mqtt/no-delay.ts';
import { msSince, summarize, type Summary } from './samples.ts';
import { startReadyChild } from './ready-child.ts';
import { promisify } from 'node:util';
import { Topics } from '../bridge/mqtt/topics.ts';

const run = promisify(execFile);

export type GuestMode = 'doorbell' | 'polling';

export interface EndToEnd {
  arch: GuestArch;
  mode: GuestMode;
  /** Reported back by gpiomon on the serial console. */
  bridge: Summary;
  raw: Summary;
  /** MQTT -> the stand-in bridge process -> the guest (doorbell mode), reported by gpiomon. */
  standIn: Summary | undefined;
  /** Reported back by vgpio-agent over MQTT. */
  agentBridge: Summary;
  agentRaw: Summary;
  /** What a user would time: a `mosquitto_pub` process started -> gpiomon prints the edge. */
  mosquittoPub: Summary;
}

const BASE = 'e2e';
const topics = new Topics(BASE);
const POLL_MS = 5;
const TIMEOUT_MS = 10_000;
const WARMUP = 4;
/** Outside the bridge's base topic: only the stand-in bridge acts on it. */
const STAND_IN_TOPIC = 'e2e-stand-in/set';

/** The chip whose gpiodetect label is `label`. */
async function chipNamed(guest: Guest, label: string): Promise<string> {
  const line = (await guest.exec('gpiodetect')).split('\n').find((l) => l.includes(`[${label}]`));
  const chip = line?.split(' ')[0];
  if (chip === undefined) throw new Error(`no gpiochip labelled ${label} in the guest:\n${await guest.exec('gpiodetect; dmesg | tail -20')}`);
  return chip;
}

/** Runs one `mosquitto_pub` process, as a user would from a shell. */
export async function mosquittoPub(port: number, topic: string, payload: string): Promise<void> {
  await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-m', payload]);
}

export async function endToEnd(mode: GuestMode, toggles: number, userToggles: number, build: BridgeBuild, arch: GuestArch = 'x86_64'): Promise<EndToEnd> {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-bench-e2e-'));
  const cleanup: (() => Promise<void> | void)[] = [() => { rmSync(dir, { recursive: true, force: true }); }];
  try {
    const kernel = guestKernel(undefined, arch);
    const vgpio = buildVgpio(kernel.headersDir, arch);
    cleanup.push(vgpio.remove);
    const { agent } = buildAgent(arch);

    // The raw baseline's region, owned here.
    let server: IvshmemServer | undefined;
    const raw = new HostRegion({ ngpio: 32, label: 'raw', names: ['raw-button', 'raw-button2'], doorbell: mode === 'doorbell', hostPeer: protocol.PEER_NONE }, () => {
      if (server !== undefined) server.ring(raw.region.guestPeer, protocol.VECTOR_GUEST);
    });
    cleanup.push(() => { raw.close(); });
    let rawArgs: string[];
    if (mode === 'doorbell') {
      server = await IvshmemServer.listen({ socketPath: join(dir, 'raw.sock'), shmPath: raw.path, shmSize: raw.mem.size, vectors: 1 });
      const s = server;
      cleanup.push(() => s.close());
      // The host peer is only known once the server listens; the guest reads it when the driver probes.
      raw.mem.store32(protocol.HDR_HOST_PEER, server.id);
      server.on('ring', () => { raw.service(); });
      rawArgs = ['-chardev', `socket,id=raw,path=${join(dir, 'raw.sock')}`, '-device', 'ivshmem-doorbell,chardev=raw,vectors=1'];
    } else {
      const timer = setInterval(() => { raw.service(); }, POLL_MS);
      cleanup.push(() => { clearInterval(timer); });
      rawArgs = plainDeviceArgs('raw', raw.path, raw.mem.size);
    }

    const port = await freePort();
    const chip = mode === 'doorbell'
      ? `{ name: guest, label: bridged, socket: ${dir}/bridge.sock, shm: ${dir}/bridge.shm, agent_socket: ${dir}/agent.sock, lines: [{ line: 0, name: button }, { line: 1, name: button2 }] }`
      : `{ name: guest, label: bridged, mode: plain, shm: ${dir}/bridge.shm, agent_socket: ${dir}/agent.sock, poll_ms: ${POLL_MS}, lines: [{ line: 0, name: button }, { line: 1, name: button2 }] }`;
    const config = `base_topic: ${BASE}\nlog_level: warn\nbroker: { port: ${port} }\nmetrics: { port: ${await freePort()} }\nweb: { enabled: false }\nhomeassistant: { enabled: false }\nchips:\n  - ${chip}\n`;
    const url = `mqtt://127.0.0.1:${port}`;
    const bridge = await BridgeProcess.start({ config, dir, url, baseTopic: BASE, build });
    cleanup.push(() => bridge.stop());
    let standInArgs: string[] = [];
    let standInPort: number | undefined;
    if (mode === 'doorbell') {
      standInPort = await freePort();
      const standIn = await startReadyChild('bench/stand-in-device.ts', [String(standInPort), join(dir, 'stand-in.sock'), STAND_IN_TOPIC]);
      cleanup.push(() => standIn.stop());
      standInArgs = ['-chardev', `socket,id=standin,path=${join(dir, 'stand-in.sock')}`, '-device', 'ivshmem-doorbell,chardev=standin,vectors=1'];
    }
    const chipConfig = loadSettings({ args: ['-c', join(dir, 'bridge.yaml')], env: {} }).chips[0];
    if (chipConfig === undefined) throw new Error('no chip in the generated configuration');

    const guest = await Guest.boot({
      arch,
      modules: ['virtio_pci', 'virtio_console'],
      binaries: GPIOD_TOOLS,
      files: [
        { dest: '/vgpio.ko', src: vgpio.ko, mode: 0o644 },
        { dest: '/usr/bin/vgpio-agent', src: agent, mode: 0o755 },
      ],
      // qemuArgs: the bridged chip's device and the agent's virtio-serial port (served by the bridge).
      qemuArgs: [...qemuArgs(chipConfig), ...rawArgs, ...standInArgs],
    });
    cleanup.push(() => guest.close());
    await guest.exec(mode === 'doorbell' ? 'insmod /vgpio.ko' : `insmod /vgpio.ko poll_ms=${POLL_MS}`);
    const dmesg = await guest.exec('dmesg | grep -E "lines, (doorbell|polling) mode"');
    if (!dmesg.includes(`${mode} mode`)) throw new Error(`the driver did not bind in ${mode} mode:\n${dmesg}`);
    const bridged = await chipNamed(guest, 'bridged');
    const rawChip = await chipNamed(guest, 'raw');
    const standInChip = mode === 'doorbell' ? await chipNamed(guest, 'stand-in') : undefined;
    // The stand-in's own broker; a client like the probe.
    const standInClient = standInPort === undefined ? undefined : noDelay(await mqtt.connectAsync(`mqtt://127.0.0.1:${standInPort}`, { reconnectPeriod: 0 }));
    if (standInClient !== undefined) cleanup.push(() => standInClient.endAsync());

    const probe = await MqttProbe.connect(url, [topics.lineFilter('config', 'guest'), topics.availability('guest'), topics.chipFilter('bridged'), topics.chipFilter('raw')]);
    noDelay(probe.client);
    cleanup.push(() => probe.close());
    await probe.waitFor(topics.availability('guest'), (p) => p === 'online', TIMEOUT_MS);
    // Line-buffered on the console: each edge is one line the moment gpiomon sees it.
    await guest.exec(`gpiomon -F 'BRIDGED %e' ${bridged} 0 > ${guest.tty} 2>&1 &`);
    await guest.exec(`gpiomon -F 'RAW %e' ${rawChip} 0 > ${guest.tty} 2>&1 &`);
    if (standInChip !== undefined) await guest.exec(`gpiomon -F 'STANDIN %e' ${standInChip} 0 > ${guest.tty} 2>&1 &`);
    await probe.waitFor(topics.config('guest', 'button'), (p) => p.includes('"trigger":"both"'), TIMEOUT_MS);
    await until('the raw gpiomon', () => raw.lines.state(0).irq.enabled, TIMEOUT_MS);
    // Both line requests complete (an edge inside one is lost): see Guest.untilWaitingForInput.
    await guest.untilWaitingForInput('gpiomon');
    await guest.exec(`vgpio-agent --base ${BASE} --watch bridged:button2 --watch raw:raw-button2 > /tmp/agent.log 2>&1 &`);
    await probe.waitFor(topics.agent('bridged'), (p) => p === 'online', 30_000).catch(async (error: unknown) => {
      throw new Error(`${(error as Error).message}\nagent log:\n${await guest.exec('cat /tmp/agent.log')}`);
    });
    await probe.waitFor(topics.config('guest', 'button2'), (p) => p.includes('"trigger":"both"'), TIMEOUT_MS);
    await until('the agent on the raw chip', () => raw.lines.state(1).irq.enabled, TIMEOUT_MS);

    const bridgeSamples: number[] = [];
    const rawSamples: number[] = [];
    const standInSamples: number[] = [];
    // The first toggles warm up both paths (JIT, page faults, the guest's caches); they are not counted.
    for (let i = -WARMUP; i < toggles; i++) {
      const level = (i + WARMUP) % 2 === 0 ? 1 : 0;
      let seen = guest.console.waitFor(new RegExp(`^BRIDGED ${level}$`, 'm'), TIMEOUT_MS);
      let start = process.hrtime.bigint();
      await probe.publish(topics.set('guest', 'button'), level === 1 ? 'ON' : 'OFF');
      await seen;
      if (i >= 0) bridgeSamples.push(msSince(start));

      seen = guest.console.waitFor(new RegExp(`^RAW ${level}$`, 'm'), TIMEOUT_MS);
      start = process.hrtime.bigint();
      raw.inputs.set(0, level);
      await seen;
      if (i >= 0) rawSamples.push(msSince(start));

      if (standInChip === undefined || standInClient === undefined) continue;
      seen = guest.console.waitFor(new RegExp(`^STANDIN ${level}$`, 'm'), TIMEOUT_MS);
      start = process.hrtime.bigint();
      await standInClient.publishAsync(STAND_IN_TOPIC, level === 1 ? 'ON' : 'OFF', { qos: 1 });
      await seen;
      if (i >= 0) standInSamples.push(msSince(start));
    }

    const agentBridge: number[] = [];
    const agentRaw: number[] = [];
    const agentEdge = (chip: string, line: string, level: 0 | 1, from: number): Promise<unknown> =>
      probe.waitFor(topics.line('agent-edge', chip, line), (p) => p.includes(level === 1 ? '"rising"' : '"falling"'), TIMEOUT_MS, from);
    for (let i = -WARMUP; i < toggles; i++) {
      const level = (i + WARMUP) % 2 === 0 ? 1 : 0;
      let from = probe.mark;
      let start = process.hrtime.bigint();
      await probe.publish(topics.set('guest', 'button2'), level === 1 ? 'ON' : 'OFF');
      await agentEdge('bridged', 'button2', level, from);
      if (i >= 0) agentBridge.push(msSince(start));

      from = probe.mark;
      start = process.hrtime.bigint();
      raw.inputs.set(1, level);
      await agentEdge('raw', 'raw-button2', level, from);
      if (i >= 0) agentRaw.push(msSince(start));
    }
    // A user's view: a new mosquitto_pub process each time (its start-up and connection included), gpiomon's line on the console.
    const userSamples: number[] = [];
    for (let i = 0; i < userToggles; i++) {
      const level = i % 2 === 0 ? 1 : 0;
      const seen = guest.console.waitFor(new RegExp(`^BRIDGED ${level}$`, 'm'), TIMEOUT_MS);
      const start = process.hrtime.bigint();
      await mosquittoPub(port, topics.set('guest', 'button'), level === 1 ? 'ON' : 'OFF');
      await seen;
      userSamples.push(msSince(start));
    }
    return { arch, mode, bridge: summarize(bridgeSamples), raw: summarize(rawSamples), standIn: standInChip === undefined ? undefined : summarize(standInSamples), agentBridge: summarize(agentBridge), agentRaw: summarize(agentRaw), mosquittoPub: summarize(userSamples) };
  } finally {
    for (const step of cleanup.reverse()) await step();
  }
}
