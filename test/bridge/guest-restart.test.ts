/**
 * Guests outlive the bridge, with a real TCG guest running vgpio.ko, the
 * bridge run from the CLI as users run it (server mode, the QEMU options
 * `vgpio2mqtt qemu-args` prints) and a real Mosquitto as its external
 * broker. The bridge is killed with SIGKILL while edge monitors wait in the
 * guest; its ivshmem server process stays, QEMU stays joined to it, and the
 * next bridge joins it again: the chip is online again, no level changed,
 * a QoS 1 command published while no bridge ran is applied exactly once,
 * and the next command reaches the guest's monitor.
 *
 * Then availability after a re-attach: the server process and QEMU are
 * killed too, a new bridge starts a new server over the same shared memory
 * (which still names the old guest's peer id and a bound driver), and a new
 * QEMU gets that same peer id without loading the driver. The chip must stay
 * offline until the driver binds.
 *
 * The whole file runs on QEMU 7.2 and on 10.0 (x86_64 guests): what QEMU
 * does when its ivshmem server or its peers come and go is QEMU's code.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { protocol, SharedMemory } from '../../native/index.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import { qemuArgs } from '../../bridge/guest-setup/qemu-args.ts';
import { stopServer } from '../../bridge/chip/server-process.ts';
import { buildGuestModules, chipByLabel, GPIOD_TOOLS, until, type GuestModules } from '../../testkit/vgpio-host.ts';
import { Guest } from '../../testkit/guest.ts';
import { Mosquitto } from '../../testkit/mosquitto.ts';
// Raw MQTT (MqttProbe), not the typed client: it counts every state, edge and availability message across restarts.
import { MqttProbe } from '../../testkit/mqtt-probe.ts';
import { machineQemuVersion, QEMU_VERSIONS } from '../../testkit/qemu-builds.ts';
import { bridgeConnected } from '../support/bridge-log.ts';

const run = promisify(execFile);
const B = 'vr';
const CHIP = 'board';
const LABEL = 'restart-chip';
const CLI = join(import.meta.dirname, '../../bridge/cli.ts');

class Bridge {
  readonly process: ChildProcess;
  log = '';
  readonly startedAt = performance.now();
  /** When the log first said the bridge reached its broker: Node and module loading are behind it. */
  connectedAt: number | undefined;

  constructor(config: string) {
    this.process = spawn(process.execPath, ['--import', 'tsx', CLI, '-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.process.stderr?.setEncoding('utf8').on('data', (text: string) => {
      this.log += text;
      if (this.connectedAt === undefined && bridgeConnected(this.log)) this.connectedAt = performance.now();
    });
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill(signal);
    await exited;
  }
}

for (const qemu of QEMU_VERSIONS) describe(`a guest survives a bridge restart (real guest on QEMU ${qemu}, real Mosquitto)`, { timeout: 900_000 }, () => {
  let dir: string;
  let config: string;
  let socket: string;
  let shmPath: string;
  let mosquitto: Mosquitto;
  let probe: MqttProbe;
  let modules: GuestModules;
  let guest: Guest;
  let bridge: Bridge;
  let gpiochip = '';

  const publish = async (line: string, payload: string): Promise<void> => {
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosquitto.port), '-q', '1', '-t', `${B}/${CHIP}/${line}/set`, '-m', payload]);
  };
  const online = (from: number, timeoutMs = 120_000): Promise<unknown> =>
    probe.waitFor(`${B}/${CHIP}/availability`, (p) => p === 'online', timeoutMs, from).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\nbridge log:\n${bridge.log}\nguest console:\n${guest.console.tail(2000)}`);
    });
  /** The guest's edge monitor output for a line: one "<seqno> <level>" per edge. */
  const edges = async (line: number): Promise<string[]> =>
    (await guest.exec(`cat /tmp/edges${line}`)).split('\n').filter((l) => /^\d+ [01]$/.test(l.trim())).map((l) => l.trim());
  const serverPid = (): number => Number(readFileSync(`${socket}.pid`, 'utf8'));

  before(async () => {
    dir = mkdtempSync('/dev/shm/vgpio-restart-');
    socket = join(dir, `${CHIP}.sock`);
    shmPath = join(dir, `${CHIP}.shm`);
    mosquitto = await Mosquitto.start();
    config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `base_topic: ${B}
mqtt: { server: '${mosquitto.url}', client_id: vgpio2mqtt-restart, reconnect_ms: 200 }
metrics: { port: null }
web: { enabled: false }
homeassistant: { enabled: false }
log_level: debug
chips:
  - name: ${CHIP}
    label: ${LABEL}
    socket: ${socket}
    shm: ${shmPath}
    poll_ms: 60000
    ngpio: 8
    lines:
      - { line: 0, name: button }
      - { line: 1, name: knob }
`,
    );
    probe = await MqttProbe.connect(mosquitto.url, [`${B}/#`]);
    modules = buildGuestModules();
    bridge = new Bridge(config);
    await until('the bridge to start its ivshmem server', () => existsSync(`${socket}.pid`) && bridgeConnected(bridge.log), 60_000).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${bridge.log}`);
    });
    const chip = loadSettings({ args: ['-c', config], env: {} }).chips[0] ?? assert.fail('no chip');
    guest = await Guest.boot({ qemu, binaries: GPIOD_TOOLS, files: modules.files, qemuArgs: qemuArgs(chip) });
  });

  after(async () => {
    await guest.close();
    await bridge.kill('SIGTERM');
    await stopServer(socket);
    await probe.close();
    await mosquitto.close();
    modules.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is online once the driver binds, with the button ON', async () => {
    assert.equal(await machineQemuVersion(guest), qemu, 'the guest runs on the QEMU its title names');
    const from = probe.mark;
    await guest.exec('insmod /vgpio.ko');
    await online(from);
    gpiochip = await chipByLabel(guest, LABEL);
    assert.match(gpiochip, /^gpiochip\d+$/);
    await publish('button', 'ON');
    await probe.waitFor(`${B}/${CHIP}/button`, (p) => p === 'ON', 10_000, from);
  });

  it('keeps the guest through a kill -9 of the bridge: online again, no level changed, queued QoS 1 commands applied once, the next command reaches the guest', async () => {
    for (const line of [0, 1]) {
      await guest.exec(`rm -f /tmp/edges${line}; ( (edgemon /dev/${gpiochip} ${line} 2 both > /tmp/edges${line} 2>&1) & )`);
    }
    await guest.untilWaitingForInput('edgemon');
    const server = serverPid();
    const mem = SharedMemory.open(shmPath, { size: 8192 });
    const bank0 = mem.load32(protocol.HDR_BANK_OFF);
    const levelsBefore = mem.load32(bank0 + protocol.BANK_IN);
    const peerBefore = mem.load32(protocol.HDR_HOST_PEER);

    const killed = probe.mark;
    await bridge.kill('SIGKILL');
    await probe.waitFor(`${B}/bridge/state`, (p) => p.includes('offline'), 30_000, killed);
    // While no bridge runs: a QoS 1 command for the persistent session, and the guest's driver keeps running.
    await publish('knob', 'TOGGLE');
    assert.equal(process.kill(server, 0), true, 'the ivshmem server outlives the bridge');
    assert.equal(mem.load32(bank0 + protocol.BANK_IN), levelsBefore, 'nobody touched the levels');

    const from = probe.mark;
    bridge = new Bridge(config);
    await online(from, 60_000);
    const now = performance.now();
    process.stdout.write(
      `# restarted bridge: chip online ${(now - bridge.startedAt).toFixed(0)} ms after the process started, ${(now - (bridge.connectedAt ?? now)).toFixed(0)} ms after it logged its broker connection\n`,
    );
    assert.equal(serverPid(), server, 'the same server process, joined again');
    assert.notEqual(mem.load32(protocol.HDR_HOST_PEER), peerBefore, 'host_peer names the new bridge peer');

    // The queued TOGGLE, exactly once: knob ON, one rising edge in the guest.
    await probe.waitFor(`${B}/${CHIP}/knob`, (p) => p === 'ON', 30_000, from);
    await until('the guest to see the knob edge', async () => (await edges(1)).length >= 1, 30_000);
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual((await edges(1)).map((l) => l.split(' ')[1]), ['1'], 'one rising edge on the knob, not two');
    assert.equal(probe.on(`${B}/${CHIP}/knob/edge`, from).length, 1);

    // No level changed across the restart: the button is still ON and the guest saw no edge on it.
    assert.deepEqual(await edges(0), []);
    assert.equal(mem.load32(bank0 + protocol.BANK_IN) & 1, levelsBefore & 1);
    assert.equal(probe.on(`${B}/${CHIP}/button`, from).every((m) => m.payload === 'ON'), true);

    // The next command reaches the guest's monitor.
    await publish('button', 'OFF');
    await until('the guest to see the button edge', async () => (await edges(0)).length >= 1, 30_000);
    assert.deepEqual((await edges(0)).map((l) => l.split(' ')[1]), ['0']);
    mem.close();
  });

  it('after the server and QEMU are gone, a new QEMU with the old peer id is offline until its driver binds', async () => {
    const mem = SharedMemory.open(shmPath, { size: 8192 });
    const oldGuestPeer = mem.load32(protocol.HDR_GUEST_PEER);
    assert.equal(mem.load32(protocol.HDR_GUEST_GEN) & 1, 1, 'the old driver was bound');
    // Nothing runs any more, and nobody marked the old guest's generation stale (SIGKILL).
    await bridge.kill('SIGKILL');
    process.kill(serverPid(), 'SIGKILL');
    await guest.close();
    rmSync(socket, { force: true });

    const from = probe.mark;
    bridge = new Bridge(config);
    await until('the new bridge and server', () => bridgeConnected(bridge.log), 60_000).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${bridge.log}`);
    });
    const chip = loadSettings({ args: ['-c', config], env: {} }).chips[0] ?? assert.fail('no chip');
    guest = await Guest.boot({ qemu, binaries: GPIOD_TOOLS, files: modules.files, qemuArgs: qemuArgs(chip) });
    await until('the new QEMU to join', () => bridge.log.includes(`ivshmem peer ${oldGuestPeer} joined`), 30_000).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}: the new QEMU should get the old guest's peer id\n${bridge.log}`);
    });
    assert.equal(mem.load32(protocol.HDR_GUEST_PEER), oldGuestPeer, 'the region still names the old guest');
    assert.equal(mem.load32(protocol.HDR_GUEST_GEN) & 1, 1, 'and a bound driver');
    await new Promise((r) => setTimeout(r, 3000));
    await publish('button', 'ON'); // makes the bridge scan, and must be refused
    await probe.waitFor(`${B}/bridge/event`, (p) => p.includes('chip_offline'), 30_000, from);
    assert.deepEqual(probe.on(`${B}/${CHIP}/availability`, from).map((m) => m.payload).filter((p) => p === 'online'), [], 'never online without a driver');

    await guest.exec('insmod /vgpio.ko');
    await online(from);
    mem.close();
  });
});
