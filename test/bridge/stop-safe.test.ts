/**
 * A stop loses no command and applies none twice: a QoS 1 TOGGLE flood
 * through a real Mosquitto to the bridge as a real process, stopped twice
 * during the flood (SIGTERM; kill -9 from outside, wherever it lands; or a
 * SIGKILL the bridge sends itself right after a command's shared-memory
 * write, before the command is recorded as applied) and started again each
 * time, with a fake guest that acknowledges every interrupt. Every command is applied
 * once (the guest's acknowledgements count the changes it saw), every
 * change has one edge across the runs, and the line ends at the right
 * level. And a SIGTERM while the broker has gone silent ends within the
 * stop's limit, saying what may not have been delivered.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SharedMemory } from '../../native/index.ts';
import { STOP_TIMEOUT_MS } from '../../bridge/mqtt/link.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
import { Mosquitto } from '../../testkit/mosquitto.ts';
import { MqttProbe } from '../../testkit/mqtt-probe.ts';
import { freePort } from '../../testkit/ports.ts';
import { bridgeConnected } from '../support/bridge-log.ts';
import { until } from '../../testkit/vgpio-host.ts';

const CLI = join(import.meta.dirname, '../../bridge/cli.ts');
const KILLED = join(import.meta.dirname, '../support/killed-bridge-main.ts');
const B = 'ss';
const LINE = 3;
const N = 2000;
/** Where the flood is stopped: after this share of the commands was applied. */
const STOPS = [0.25, 0.6];
/**
 * Commands are published this many at a time, the next batch once the
 * guest has seen all but this many: never more waiting than a line's queue
 * holds (queue_limit 1024), so no command is refused, with this bridge or
 * an older one that queued every command it read.
 */
const BATCH = 300;

interface Bridge {
  child: ChildProcess;
  log: () => string;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else
      child.once('exit', () => {
        resolve();
      });
  });
}

/** The bridge as a process, its runtime folder (and so its command journal) in `dir`; with `killAt`, one that kills itself within its `killAt`-th host edge. */
async function startBridge(config: string, dir: string, killAt?: number): Promise<Bridge> {
  const args = killAt === undefined ? [CLI, 'start', '-c', config] : [KILLED, config, String(killAt)];
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUNTIME_DIRECTORY: dir } });
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  await until('the bridge to connect', () => bridgeConnected(log) || child.exitCode !== null, 30_000);
  assert.equal(child.exitCode, null, log);
  return { child, log: () => log };
}

/** A bridge process with one plain-mode chip `board` (8 lines, shared memory in `dir`) on the broker at `port`. */
async function startPlainBridge(dir: string, port: number, clientId: string): Promise<Bridge> {
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `base_topic: ${B}
mqtt: { server: "mqtt://127.0.0.1:${port}", client_id: ${clientId} }
homeassistant: { enabled: false }
metrics: { port: null }
web: { enabled: false }
chips:
  - { name: board, mode: plain, shm: ${dir}/board.shm, poll_ms: 5, ngpio: 8 }
`,
  );
  return startBridge(config, dir);
}

/**
 * Stands between the bridge and Mosquitto; `silence()` makes it a broker
 * that has gone silent: the bridge's connection stays open and nothing
 * comes back (what a broker that stopped looks like until TCP gives up).
 */
class Proxy {
  readonly port: number;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #silent = false;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async start(upstream: number): Promise<Proxy> {
    const port = await freePort();
    const proxy = new Proxy(
      createServer((client) => {
        proxy.#pipe(client, connect(upstream, '127.0.0.1'));
      }),
      port,
    );
    await new Promise<void>((resolve) => proxy.#server.listen(port, '127.0.0.1', resolve));
    return proxy;
  }

  #pipe(client: Socket, server: Socket): void {
    for (const socket of [client, server]) {
      this.#sockets.add(socket);
      socket.on('error', () => undefined);
    }
    client.on('data', (data) => {
      if (!this.#silent) server.write(data);
    });
    server.on('data', (data) => {
      if (!this.#silent) client.write(data);
    });
    server.on('close', () => {
      if (!this.#silent) client.destroy();
    });
    client.on('close', () => server.destroy());
  }

  silence(): void {
    this.#silent = true;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

describe('a stop loses no command and applies none twice (Mosquitto, bridge process, fake guest)', { timeout: 600_000 }, () => {
  let root: string;
  before(() => {
    root = mkdtempSync('/dev/shm/vgpio-stop-safe-');
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  for (const signal of ['SIGTERM', 'SIGKILL', 'window'] as const) {
    const how = signal === 'window' ? 'killed (SIGKILL) between a command\'s shared-memory write and its record as applied' : `stopped with ${signal}`;
    /** In the window: the host edge at which each run kills itself (its share of the flood). */
    const killAt = (run: number): number | undefined => (signal === 'window' && run < STOPS.length ? Math.round(N * ((STOPS[run] ?? 0) - (STOPS[run - 1] ?? 0))) : undefined);
    it(`${N} QoS 1 TOGGLEs, the bridge ${how} at ${STOPS.map((s) => `${s * 100}%`).join(' and ')} and started again: ${N} changes, ${N} edges, no duplicate`, async (t: TestContext) => {
      const dir = mkdtempSync(join(root, `${signal}-`));
      // No limit on the commands Mosquitto queues for the bridge's session: what is measured is the bridge.
      const mosquitto = await Mosquitto.start({ extra: ['max_queued_messages 0'] });
      const config = join(dir, 'config.yaml');
      writeFileSync(
        config,
        `base_topic: ${B}
log_level: info
mqtt: { server: "mqtt://127.0.0.1:${mosquitto.port}", client_id: vgpio2mqtt-stop-safe-${signal} }
homeassistant: { enabled: false }
metrics: { port: null }
web: { enabled: false }
chips:
  - { name: board, mode: plain, shm: ${dir}/board.shm, poll_ms: 1, ngpio: 8, queue_limit: 1024 }
`,
      );
      let bridge = await startBridge(config, dir, killAt(0));
      const mem = SharedMemory.open(join(dir, 'board.shm'));
      const guest = new FakeGuest(mem);
      guest.bind();
      guest.enableIrq(LINE, { rising: true, falling: true });
      // Every change of the line raises its interrupt (both edges enabled), and the guest acknowledges each: one per change.
      let applied = 0;
      /** The line's level at each acknowledgement: a level seen twice in a row is an interrupt without a change. */
      let level = guest.input(LINE);
      let same = 0;
      const acking = setInterval(() => {
        const now = guest.input(LINE);
        const acked = guest.ack().filter((line) => line === LINE).length;
        if (acked > 0 && now === level) same += 1;
        if (acked > 0) level = now;
        applied += acked;
      }, 1);
      const probe = await MqttProbe.connect(mosquitto.url, [`${B}/board/${LINE}/edge`, `${B}/board/availability`]);
      const logs: string[] = [];
      try {
        await probe.waitFor(`${B}/board/availability`, (p) => p === 'online', 10_000);
        const flood = (async (): Promise<void> => {
          for (let sent = 0; sent < N; sent += BATCH) {
            await until(`the guest to catch up with ${sent} commands`, () => applied >= sent - BATCH, 120_000);
            const pub = promisify(execFile)('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mosquitto.port), '-q', '1', '-t', `${B}/board/${LINE}/set`, '-l']);
            pub.child.stdin?.end('TOGGLE\n'.repeat(Math.min(BATCH, N - sent)));
            await pub;
          }
        })();
        for (const [run, share] of STOPS.entries()) {
          if (signal === 'window') {
            const child = bridge.child;
            await until(`the bridge to kill itself at ${share * 100}%`, () => child.signalCode !== null || child.exitCode !== null, 120_000);
            assert.equal(child.signalCode, 'SIGKILL', bridge.log());
          } else {
            await until(`${share * 100}% applied`, () => applied >= N * share, 120_000);
            bridge.child.kill(signal);
            await exited(bridge.child);
          }
          logs.push(bridge.log());
          if (signal === 'SIGTERM') assert.equal(bridge.child.exitCode, 0, bridge.log());
          t.diagnostic(`${signal} after ${applied} applied`);
          bridge = await startBridge(config, dir, killAt(run + 1));
        }
        await flood;
        await until(`${N} applied`, () => applied >= N, 120_000);
        // Anything more (a command applied twice, an edge published again) would come now.
        await new Promise((resolve) => setTimeout(resolve, 1000));
        bridge.child.kill('SIGTERM');
        await exited(bridge.child);
        logs.push(bridge.log());
        const edges = probe.on(`${B}/board/${LINE}/edge`).map((m) => JSON.parse(m.payload) as { edge: string; source: string });
        const repeated = edges.filter((e, i) => i > 0 && e.edge === edges[i - 1]?.edge).length;
        t.diagnostic(`interrupts without a change ${same}`);
        t.diagnostic(`N ${N}, applied ${applied}, edges ${edges.length}, duplicates ${repeated + Math.max(0, applied - N)}`);
        assert.equal(applied, N, `every command applied once\n${logs.join('\n----\n')}`);
        assert.equal(guest.input(LINE), N % 2, 'the line ends at the level of N toggles');
        assert.equal(edges.length, N, 'one edge per change, across the runs');
        assert.equal(repeated, 0, 'edges alternate: none repeated, none missing');
        assert.ok(edges.every((e) => e.source === 'host'));
        // Each run after a kill in the window found the command it interrupted in shared memory.
        const found = logs.slice(1).filter((log) => /stopped while writing \d+ command\(s\) to shared memory: [1-9]\d* reached it/.test(log)).length;
        if (signal === 'window') assert.equal(found, STOPS.length, logs.join('\n----\n'));
      } finally {
        clearInterval(acking);
        if (bridge.child.exitCode === null && bridge.child.signalCode === null) bridge.child.kill('SIGKILL');
        await probe.close();
        mem.close();
        await mosquitto.close();
      }
    });
  }

  it(`a SIGTERM while the broker has gone silent ends within the stop's limit (${STOP_TIMEOUT_MS} ms), saying what may not have reached the broker`, async (t: TestContext) => {
    const dir = mkdtempSync(join(root, 'silent-'));
    const mosquitto = await Mosquitto.start();
    const proxy = await Proxy.start(mosquitto.port);
    const bridge = await startPlainBridge(dir, proxy.port, 'vgpio2mqtt-stop-silent');
    const mem = SharedMemory.open(join(dir, 'board.shm'));
    const probe = await MqttProbe.connect(mosquitto.url, [`${B}/bridge/state`]);
    try {
      await probe.waitFor(`${B}/bridge/state`, (p) => p.includes('online'), 10_000);
      proxy.silence();
      await mosquitto.stop();
      const from = Date.now();
      bridge.child.kill('SIGTERM');
      await until('the bridge to exit', () => bridge.child.exitCode !== null || bridge.child.signalCode !== null, STOP_TIMEOUT_MS + 10_000);
      t.diagnostic(`exited ${bridge.child.exitCode ?? bridge.child.signalCode} after ${Date.now() - from} ms (limit ${STOP_TIMEOUT_MS} ms)`);
      assert.match(bridge.log(), /did not answer within \d+ ms; closing the connection anyway/);
      assert.equal(bridge.child.exitCode, 0, bridge.log());
    } finally {
      if (bridge.child.exitCode === null && bridge.child.signalCode === null) bridge.child.kill('SIGKILL');
      await probe.close().catch(() => undefined);
      mem.close();
      await proxy.close();
      await mosquitto.close();
    }
  });
  it('a command waiting behind one line\'s interrupt does not hold back the commands for other lines', async (t: TestContext) => {
    const dir = mkdtempSync(join(root, 'waiting-'));
    const mosquitto = await Mosquitto.start();
    const bridge = await startPlainBridge(dir, mosquitto.port, 'vgpio2mqtt-stop-waiting');
    const mem = SharedMemory.open(join(dir, 'board.shm'));
    const guest = new FakeGuest(mem);
    const probe = await MqttProbe.connect(mosquitto.url, [`${B}/board/availability`]);
    try {
      guest.bind();
      for (const line of [0, 1]) guest.enableIrq(line, { rising: true, falling: true });
      await probe.waitFor(`${B}/board/availability`, (p) => p === 'online', 10_000);
      // Line 0's ON raises an interrupt the guest does not acknowledge yet: its OFF waits in the line's queue.
      await probe.client.publishAsync(`${B}/board/0/set`, 'ON', { qos: 1 });
      await probe.client.publishAsync(`${B}/board/0/set`, 'OFF', { qos: 1 });
      await probe.client.publishAsync(`${B}/board/1/set`, 'ON', { qos: 1 });
      const from = Date.now();
      await until('line 1 to change while line 0 waits for the guest', () => guest.input(1) === 1, 10_000);
      t.diagnostic(`line 1 applied after ${Date.now() - from} ms while line 0's OFF waited`);
      assert.equal(guest.input(0), 1, 'line 0 still holds its ON: its OFF waits for the acknowledgement');
      guest.ack();
      await until('line 0 to go OFF once the guest acknowledged', () => guest.input(0) === 0, 10_000);
    } finally {
      if (bridge.child.exitCode === null && bridge.child.signalCode === null) bridge.child.kill('SIGKILL');
      await probe.close();
      mem.close();
      await mosquitto.close();
    }
  });
});
