/**
 * The bridge serving ivshmem itself (server mode), with a fake guest that
 * joins as a real ivshmem peer (IvshmemClient), binds like the driver and
 * rings the host. Doorbells only: the poll timer is set to a minute, so
 * everything seen here came through a ring. Also the daemon as users run
 * it: the CLI started as a process and stopped with SIGTERM, its ivshmem
 * server staying behind for the guests until stopped by its pid.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IvshmemClient, IvshmemServer, protocol } from '../../native/index.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
// Raw MQTT (MqttProbe), not the typed client: it checks the bridge's topics, payloads and retain flags themselves.
import { MqttProbe } from '../../testkit/mqtt-probe.ts';
import { freePort } from '../../testkit/ports.ts';
import { bridgeConnected } from '../support/bridge-log.ts';

const B = 'vs';
const CLI = join(import.meta.dirname, '../../bridge/cli.ts');

describe('bridge with a server-mode chip and a fake guest peer', () => {
  let dir: string;
  let port: number;
  let config: string;
  let controller: Controller;
  let client: IvshmemClient;
  let guest: FakeGuest;
  let probe: MqttProbe;
  const guestRings: number[] = [];

  const join_ = async (): Promise<void> => {
    client = await IvshmemClient.connect(join(dir, 'board.sock'));
    client.on('ring', (vector) => guestRings.push(vector));
    guest = new FakeGuest(client.shm, client);
  };

  before(async () => {
    dir = mkdtempSync('/dev/shm/vgpio-bridge-server-');
    port = await freePort();
    config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `base_topic: ${B}
broker: { port: ${port} }
metrics: { port: 0 }
web: { enabled: false }
homeassistant: { enabled: false }
chips:
  - name: board
    socket: ${dir}/board.sock
    shm: ${dir}/board.shm
    poll_ms: 60000
    queue_limit: 2
    lines:
      - { line: 0, name: button }
      - { line: 1, name: led, direction: output }
`,
    );
    controller = await Controller.start(loadSettings({ args: ['-c', config], env: {} }), { log: new Logger('error') });
    probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, [`${B}/#`]);
    await join_();
  });

  after(async () => {
    await client.close();
    await probe.close();
    await controller.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes its own peer id as host_peer and stays offline while the peer has no bound driver', async () => {
    // The bridge is a peer of its own ivshmem server (which is no peer itself): the only other peer.
    const bridgePeers = client.peers().map((p) => p.id);
    assert.equal(bridgePeers.length, 1);
    assert.equal(client.shm.load32(protocol.HDR_HOST_PEER), bridgePeers[0]);
    assert.equal(client.shm.load32(protocol.HDR_MAGIC), protocol.SHM_MAGIC);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(controller.chips.get('board')?.online, false);
  });

  it('refuses a second bridge on the same chip: its ivshmem server is shared, the region is not', async () => {
    await assert.rejects(
      Controller.start(loadSettings({ args: ['-c', config, '--broker-port', String(await freePort())], env: {} }), { log: new Logger('error') }),
      /chip board: another bridge \(ivshmem peer \d+\) serves the shared memory of \S+board\.sock; stop it first/,
    );
    assert.equal(client.shm.load32(protocol.HDR_HOST_PEER), client.peers()[0]?.id, 'host_peer still names the first bridge');
  });

  it('goes online when the joined peer binds and rings', async () => {
    guest.bind();
    guest.ringHost();
    await probe.waitFor(`${B}/board/availability`, (p) => p === 'online');
  });

  it('rings the guest for an enabled edge and moves its queue on the guest\'s ack ring', async () => {
    guest.enableIrq(0, { rising: true, falling: true });
    guestRings.length = 0;
    const from = probe.mark;
    await probe.publish(`${B}/board/button/set`, 'ON');
    await probe.waitFor(`${B}/board/button`, (p) => p === 'ON', 5000, from);
    for (let i = 0; i < 100 && guestRings.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(guestRings, [protocol.VECTOR_GUEST]);
    assert.equal(guest.pending(0), true);
    await probe.publish(`${B}/board/button/set`, 'OFF');
    await probe.publish(`${B}/board/button/set`, 'ON');
    const overflow = probe.mark;
    await probe.publish(`${B}/board/button/set`, 'OFF');
    const event = await probe.waitFor(`${B}/bridge/event`, (p) => p.includes('queue_overflow'), 5000, overflow);
    assert.match(event.payload, /has 2 changes waiting/);
    assert.equal(guest.ackRequested(0), true);
    guest.ack(); // rings the host because ack_req is set
    await probe.waitFor(`${B}/board/button`, (p) => p === 'OFF', 5000, from);
    guest.ack();
    await probe.waitFor(`${B}/board/button`, (p) => p === 'ON', 5000, probe.mark - 1);
    guest.ack();
    assert.deepEqual(
      probe.on(`${B}/board/button/edge`, from).map((m) => (JSON.parse(m.payload) as { edge: string }).edge),
      ['rising', 'falling', 'rising'],
    );
  });

  it('publishes a guest output change on the guest\'s doorbell (no polling)', async () => {
    const from = probe.mark;
    guest.setDirection(1, true);
    guest.setOutput(1, 1);
    guest.ringHost();
    await probe.waitFor(`${B}/board/led`, (p) => p === 'ON', 2000, from);
  });

  it('rings the guest at once for the first command of a burst and once more for all the others', async () => {
    const chip = controller.chips.get('board') ?? assert.fail('no chip');
    const numbers = [2, 3, 4];
    for (const n of numbers) guest.enableIrq(n, { rising: true, falling: true });
    const lines = numbers.map((n) => chip.line(String(n)) ?? assert.fail());
    const rung = (): number => controller.counters.total('doorbellRung', 'board');
    const before = rung();
    // As a socket read of several commands is delivered: one synchronous run.
    const outcomes = lines.map((line, i) => {
      const outcome = chip.command(line, { target: { kind: 'toggle' }, pulseMs: null });
      if (i === 0) assert.equal(rung() - before, 1, 'the first command rings at once');
      return outcome;
    });
    assert.deepEqual(outcomes.map((o) => (o.ok ? o.result : o.reason)), ['interrupt', 'interrupt', 'interrupt']);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(rung() - before, 2, 'one more ring for the rest');
    assert.deepEqual(numbers.map((n) => guest.pending(n)), [true, true, true]);
    guest.ack();
  });

  it('stays responsive under a doorbell flood', async () => {
    const before = controller.counters.total('doorbellReceived', 'board');
    for (let i = 0; i < 20000; i++) guest.ringHost();
    const health = await probe.request(B, 'health', {});
    assert.equal(health.status, 'ok');
    const received = controller.counters.total('doorbellReceived', 'board') - before;
    assert.ok(received >= 1 && received <= 20000, `rings coalesce: ${received} wake-ups for 20000 rings`);
    const from = probe.mark;
    guest.setOutput(1, 0);
    guest.ringHost();
    await probe.waitFor(`${B}/board/led`, (p) => p === 'OFF', 2000, from);
  });

  it('treats a guest leaving as offline, forgets queued changes, and a new QEMU joining and binding as online again', async () => {
    await probe.publish(`${B}/board/button/set`, 'OFF');
    await probe.publish(`${B}/board/button/set`, 'ON');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(guest.ackRequested(0), true, 'a change waits behind the pending interrupt');
    const from = probe.mark;
    await client.close();
    await probe.waitFor(`${B}/board/availability`, (p) => p === 'offline', 5000, from);
    const status = (await probe.request(B, 'get', { chip: 'board', line: 'button' })).data as { queued: number };
    assert.equal(status.queued, 0);
    await probe.publish(`${B}/board/button/set`, 'OFF');
    await probe.waitFor(`${B}/bridge/event`, (p) => p.includes('chip_offline'), 5000, from);

    await join_();
    guest.bind();
    guest.ringHost();
    await probe.waitFor(`${B}/board/availability`, (p) => p === 'online', 5000, from);
  });

  it('goes offline, with a reported problem, when its ivshmem server process dies', async () => {
    await probe.waitFor(`${B}/board/availability`, (p) => p === 'online', 5000);
    const from = probe.mark;
    client.on('error', () => undefined); // the fake guest loses the server too
    process.kill(Number(readFileSync(join(dir, 'board.sock.pid'), 'utf8')), 'SIGKILL');
    await probe.waitFor(`${B}/board/availability`, (p) => p === 'offline', 5000, from);
    assert.equal(controller.chips.get('board')?.online, false);
    await probe.waitFor(`${B}/bridge/event`, (p) => p.includes('the ivshmem server closed the connection'), 5000, from);
  });

  it('runs as a daemon from the CLI and shuts down in order on SIGTERM', async () => {
    const cliDir = mkdtempSync('/dev/shm/vgpio-bridge-cli-');
    const cliPort = await freePort();
    const cliConfig = join(cliDir, 'config.yaml');
    const socket = join(cliDir, 'chip.sock');
    writeFileSync(cliConfig, `broker: { port: ${cliPort} }\nmetrics: { port: 0 }\nweb: { enabled: false }\nchips:\n  - { name: lab, socket: ${socket}, shm: ${cliDir}/lab.shm }\n`);
    try {
      const daemon = spawn(process.execPath, ['--import', 'tsx', CLI, '-c', cliConfig], { stdio: ['ignore', 'pipe', 'pipe'] });
      let log = '';
      daemon.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => daemon.once('exit', resolve));
      for (let i = 0; i < 200 && !bridgeConnected(log); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(log, /attach QEMU with: -chardev socket,id=vgpio-lab,path=\S+chip\.sock -device ivshmem-doorbell,chardev=vgpio-lab,vectors=1/);
      assert.ok(existsSync(socket), 'the ivshmem socket exists while running');
      const watcher = await MqttProbe.connect(`mqtt://127.0.0.1:${cliPort}`, ['vgpio2mqtt/bridge/state']);
      await watcher.waitFor('vgpio2mqtt/bridge/state', (p) => p.includes('online'));
      daemon.kill('SIGTERM');
      await watcher.waitFor('vgpio2mqtt/bridge/state', (p) => p.includes('offline'));
      assert.equal(await exited, 0);
      await watcher.close().catch(() => undefined);
      assert.match(log, /SIGTERM: shutting down/);
      assert.match(log, /stopped/);
      // The ivshmem server outlives the bridge, for the guests; it is stopped by its pid.
      assert.ok(existsSync(socket), 'the ivshmem server still listens');
      const pid = Number(readFileSync(`${socket}.pid`, 'utf8'));
      assert.match(log, new RegExp(`started the ivshmem server\\(s\\) for \\S+chip\\.sock \\(pid ${pid},`));
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 200 && existsSync(socket); i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(existsSync(socket), false, 'the server removes its socket');
      assert.equal(existsSync(`${socket}.pid`), false, 'and its pid file');
      assert.ok(existsSync(join(cliDir, 'lab.shm')), 'shared memory stays for the next run');
    } finally {
      rmSync(cliDir, { recursive: true, force: true });
    }
  });
});

describe('bridge with a client-mode chip on an external ivshmem server', () => {
  let dir: string;
  let server: IvshmemServer;
  let controller: Controller;
  let client: IvshmemClient;
  let probe: MqttProbe;

  before(async () => {
    dir = mkdtempSync('/dev/shm/vgpio-bridge-client-');
    server = await IvshmemServer.listen({ socketPath: join(dir, 'ext.sock'), shmPath: join(dir, 'ext.shm'), shmSize: 8192, vectors: 1 });
    const port = await freePort();
    writeFileSync(
      join(dir, 'config.yaml'),
      `base_topic: vc\nbroker: { port: ${port} }\nmetrics: { port: 0 }\nweb: { enabled: false }\nhomeassistant: { enabled: false }\nchips:\n  - { name: shared, mode: client, socket: ${dir}/ext.sock, poll_ms: 60000, lines: [{ line: 2, name: lamp, direction: output }] }\n`,
    );
    controller = await Controller.start(loadSettings({ args: ['-c', join(dir, 'config.yaml')], env: {} }), { log: new Logger('error') });
    probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, ['vc/#']);
  });

  after(async () => {
    await probe.close();
    await controller.stop();
    await client.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('joins as a peer, lays out the server\'s memory and follows a guest peer of the same server', async () => {
    assert.equal(server.shm.load32(protocol.HDR_MAGIC), protocol.SHM_MAGIC);
    await probe.waitFor('vc/shared/availability', (p) => p === 'offline');
    const bridgePeer = server.shm.load32(protocol.HDR_HOST_PEER);
    assert.ok(server.peers().some((p) => p.id === bridgePeer), 'host_peer is the bridge\'s id on the external server');
    client = await IvshmemClient.connect(join(dir, 'ext.sock'));
    const guest = new FakeGuest(client.shm, client);
    guest.bind();
    guest.setDirection(2, true, false);
    guest.setOutput(2, 1);
    guest.ringHost();
    await probe.waitFor('vc/shared/availability', (p) => p === 'online');
    await probe.waitFor('vc/shared/lamp', (p) => p === 'ON');
    assert.deepEqual(controller.settings.chips[0]?.shm, null);
  });
});
