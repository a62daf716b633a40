/**
 * The ivshmem server and client in one process, with real sockets and
 * eventfds: rings in both directions, joins and leaves, bad peers and bad
 * servers, socket-path safety, and no fd left behind after many peers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IvshmemClient, IvshmemServer, type PeerInfo } from '../../native/index.ts';
import { binding } from '../../native/addon.ts';
import { until } from '../../testkit/until.ts';
import { scratchDir } from '../support/scratch-dir.ts';

const SHM_SIZE = 1 << 16;
const VECTORS = 2;

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** A raw peer: connects with node:net, which reads and discards the server's messages and fds. */
async function rawPeer(socketPath: string): Promise<Socket> {
  const socket = createConnection(socketPath);
  socket.resume(); // flowing: it consumes what it gets, so it sees the server hang up
  await once(socket, 'connect');
  return socket;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('ivshmem server and client', { timeout: 60_000 }, () => {
  let dir: string;
  let server: IvshmemServer;
  let socketPath: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-ivshmem-'));
    socketPath = join(dir, 'ivshmem.sock');
    server = await IvshmemServer.listen({ socketPath, shmPath: join(dir, 'shm'), shmSize: SHM_SIZE, vectors: VECTORS });
  });

  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the socket with mode 0600 and the shared memory at the given size', () => {
    const st = statSync(socketPath);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(server.shm.size, SHM_SIZE);
    assert.equal(server.id, 0);
    assert.equal(server.vectors, VECTORS);
  });

  it('rings reach the right vector in both directions, and rings coalesce', async () => {
    const client = await IvshmemClient.connect(socketPath);
    try {
      assert.deepEqual(client.peers(), [{ id: server.id, vectors: VECTORS }]);
      const serverRing = once(server, 'ring') as Promise<[number]>;
      client.ring(server.id, 1);
      assert.deepEqual(await serverRing, [1]);
      const clientRing = once(client, 'ring') as Promise<[number]>;
      server.ring(client.id, 0);
      assert.deepEqual(await clientRing, [0]);

      const rings: number[] = [];
      client.on('ring', (vector) => rings.push(vector));
      for (let i = 0; i < 5; i++) server.ring(client.id, 1);
      await sleep(50);
      assert.deepEqual(rings, [1], 'five rings before the loop ran are one event');
    } finally {
      await client.close();
    }
  });

  it('ringing an unknown peer or vector is a RangeError', async () => {
    const client = await IvshmemClient.connect(socketPath);
    try {
      assert.throws(() => { server.ring(999, 0); }, { name: 'RangeError', message: 'no ivshmem peer 999' });
      assert.throws(() => { server.ring(client.id, VECTORS); }, /has no vector 2 \(it has 2\)/);
      assert.throws(() => { server.ring(client.id, -1); }, RangeError);
      assert.throws(() => { client.ring(server.id, 0.5); }, RangeError);
    } finally {
      await client.close();
    }
    assert.throws(() => { client.ring(server.id, 0); }, /closed/);
  });

  it('announces joins and leaves to the server and to the other peers', async () => {
    const a = await IvshmemClient.connect(socketPath);
    const joins: PeerInfo[] = [];
    const leaves: number[] = [];
    a.on('join', (peer) => joins.push(peer));
    a.on('leave', (id) => leaves.push(id));
    const b = await IvshmemClient.connect(socketPath);
    await sleep(50);
    assert.deepEqual(joins, [{ id: b.id, vectors: VECTORS }]);
    assert.ok(b.peers().some((p) => p.id === a.id));
    const ringA = once(a, 'ring') as Promise<[number]>;
    b.ring(a.id, 1);
    assert.deepEqual(await ringA, [1]);
    const serverLeave = once(server, 'leave') as Promise<[number]>;
    const bId = b.id;
    await b.close();
    assert.deepEqual(await serverLeave, [bId]);
    await sleep(50);
    assert.deepEqual(leaves, [bId]);
    assert.ok(!a.peers().some((p) => p.id === bId));
    await a.close();
  });

  it('drops a peer that sends bytes, and keeps serving the others', async () => {
    const good = await IvshmemClient.connect(socketPath);
    const bad = await rawPeer(socketPath);
    await sleep(50);
    const badId = good.peers().find((p) => p.id !== server.id)?.id;
    assert.ok(badId !== undefined);
    const dropped = once(server, 'drop') as Promise<[number, string]>;
    const goodSawLeave = once(good, 'leave') as Promise<[number]>;
    const badClosed = once(bad, 'close');
    bad.write('hello');
    assert.deepEqual(await dropped, [badId, 'sent data (peers must not send anything)']);
    assert.deepEqual(await goodSawLeave, [badId]);
    await badClosed;
    const ring = once(server, 'ring') as Promise<[number]>;
    good.ring(server.id, 0);
    assert.deepEqual(await ring, [0]);
    const next = await IvshmemClient.connect(socketPath);
    assert.ok(next.peers().some((p) => p.id === good.id));
    await next.close();
    await good.close();
  });

  it('survives a peer that disconnects mid-handshake', async () => {
    await until('earlier peers are gone', () => server.peers().length === 0);
    let admitted = 0;
    const onAdmit = (): void => {
      admitted++;
    };
    server.on('join', onAdmit).on('drop', onAdmit);
    for (let i = 0; i < 5; i++) {
      const socket = createConnection(socketPath);
      socket.destroy();
    }
    // Each is either dropped during its handshake, or joins and then leaves.
    await until('the five are handled', () => admitted >= 5 && server.peers().length === 0);
    server.off('join', onAdmit).off('drop', onAdmit);
    const client = await IvshmemClient.connect(socketPath);
    assert.equal(client.vectors, VECTORS);
    await client.close();
  });

  it('follows 64+ peers joining and leaving, and leaks no fd', async () => {
    await until('earlier peers are gone', () => server.peers().length === 0);
    const observer = await IvshmemClient.connect(socketPath);
    const baseline = openFds();
    for (let round = 0; round < 2; round++) {
      const joined: number[] = [];
      const left: number[] = [];
      const onJoin = (peer: PeerInfo): void => {
        joined.push(peer.id);
      };
      const onLeave = (id: number): void => {
        left.push(id);
      };
      observer.on('join', onJoin).on('leave', onLeave);
      const peers = await Promise.all(Array.from({ length: 70 }, () => rawPeer(socketPath)));
      await until('all 70 joined', () => joined.length === 70);
      assert.equal(server.peers().length, 71);
      assert.equal(observer.peers().length, 71);
      for (const peer of peers) peer.destroy();
      await until('all 70 left', () => left.length === 70);
      assert.deepEqual([...left].sort(), [...joined].sort());
      assert.equal(server.peers().length, 1);
      observer.off('join', onJoin).off('leave', onLeave);
    }
    // The node:net peers' own sockets close asynchronously; ours are closed by then.
    await until(`as many fds open as before the peers came and went (${baseline})`, () => openFds() === baseline);
    await observer.close();
  });

  it('closing a client, then the whole server, releases every fd (the shared memory on close())', async () => {
    await sleep(100); // sockets of earlier tests' node:net peers close asynchronously
    const fds = openFds();
    const dir2 = mkdtempSync(join(tmpdir(), 'vgpio-ivshmem-close-'));
    const other = await IvshmemServer.listen({
      socketPath: join(dir2, 's'), shmPath: join(dir2, 'm'), shmSize: SHM_SIZE, vectors: 3,
    });
    const clients = await Promise.all([1, 2, 3].map(() => IvshmemClient.connect(join(dir2, 's'), { vectors: 3 })));
    assert.ok(openFds() > fds + 20);
    await clients[0]?.close();
    const errors: Error[] = [];
    for (const client of clients.slice(1)) client.on('error', (error) => errors.push(error));
    // (not events.once, which rejects on the 'error' that precedes 'close')
    const closed = clients.slice(1).map((client) => new Promise<void>((resolve) => client.once('close', resolve)));
    await other.close();
    await Promise.all(closed);
    assert.equal(errors.length, 2);
    assert.match(errors[0]?.message ?? '', /the ivshmem server closed the connection/);
    assert.deepEqual(readdirSync(dir2), ['m'], 'the socket file is gone, the shm file stays');
    assert.equal(openFds(), fds + 2, 'at once, only the shared memory of the two clients is left open');
    clients[1]?.shm.store32(0, 0x5a5a);
    assert.equal(clients[2]?.shm.load32(0), 0x5a5a, 'and it still works: the memory outlives the server');
    for (const client of clients.slice(1)) await client.close();
    assert.equal(openFds(), fds, 'nothing left open once closed');
    rmSync(dir2, { recursive: true, force: true });
  });
});

describe('ivshmem server: bad options and socket paths', { timeout: 30_000 }, () => {
  const dir = scratchDir('vgpio-ivshmem-paths-');
  const options = (name: string, extra: object = {}): Parameters<typeof IvshmemServer.listen>[0] => ({
    socketPath: join(dir, `${name}.sock`), shmPath: join(dir, `${name}.shm`), shmSize: SHM_SIZE, vectors: 1, ...extra,
  });

  it('rejects a socket path in a missing directory', async () => {
    await assert.rejects(IvshmemServer.listen(options('x', { socketPath: join(dir, 'missing/x.sock') })), /cannot listen on .*missing\/x.sock: directory .*missing does not exist/);
  });

  it('rejects a shm size that is not a power of two, and bad vectors or mode', async () => {
    await assert.rejects(IvshmemServer.listen(options('size', { shmSize: 5000 })), /shared memory size 5000 is not a power of two/);
    await assert.rejects(IvshmemServer.listen(options('vec', { vectors: 0 })), /vectors must be an integer in 1\.\.64/);
    await assert.rejects(IvshmemServer.listen(options('vec', { vectors: 65 })), RangeError);
    await assert.rejects(IvshmemServer.listen(options('mode', { socketMode: 0o1777 })), /socketMode/);
  });

  it('honours socketMode', async () => {
    const server = await IvshmemServer.listen(options('mode', { socketMode: 0o660 }));
    assert.equal(statSync(join(dir, 'mode.sock')).mode & 0o777, 0o660);
    await server.close();
  });

  it('refuses a path where a live server listens, which keeps serving', async () => {
    const first = await IvshmemServer.listen(options('live'));
    await assert.rejects(IvshmemServer.listen(options('live', { shmPath: join(dir, 'other.shm') })), /another server is listening on it/);
    const client = await IvshmemClient.connect(join(dir, 'live.sock'));
    assert.deepEqual(client.peers(), [{ id: first.id, vectors: 1 }]);
    await client.close();
    await first.close();
  });

  it('replaces a stale socket file, but never a file that is not a socket', async () => {
    const stale = join(dir, 'stale.sock');
    binding.closeFd(binding.unixListen(stale, 0o600, 1)); // a server that died without cleaning up
    assert.ok(statSync(stale).isSocket());
    const server = await IvshmemServer.listen(options('stale'));
    const client = await IvshmemClient.connect(stale);
    await client.close();
    await server.close();

    writeFileSync(join(dir, 'file.sock'), 'precious');
    await assert.rejects(IvshmemServer.listen(options('file')), /file.sock: it exists and is not a socket/);
    assert.equal(readFileSync(join(dir, 'file.sock'), 'utf8'), 'precious');
  });
});

describe('ivshmem client: bad servers', { timeout: 30_000 }, () => {
  const dir = scratchDir('vgpio-ivshmem-client-');

  /** A fake server that writes `bytes` to each connection, then closes it or not. */
  async function fakeServer(name: string, bytes: Buffer, end: boolean): Promise<{ path: string; close: () => void }> {
    const path = join(dir, name);
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      if (end) socket.end(bytes);
      else socket.write(bytes);
    });
    server.listen(path);
    await once(server, 'listening');
    return { path, close: () => server.close() };
  }

  const int64 = (...values: bigint[]): Buffer => {
    const buffer = Buffer.alloc(8 * values.length);
    values.forEach((v, i) => buffer.writeBigInt64LE(v, 8 * i));
    return buffer;
  };

  it('rejects a missing socket with the path', async () => {
    await assert.rejects(IvshmemClient.connect(join(dir, 'none')), /cannot connect to the ivshmem server at .*none: .*ENOENT|No such file/);
  });

  it('rejects a server that hangs up mid-handshake', async () => {
    const fake = await fakeServer('hangup', int64(0n, 3n), true);
    const fds = openFds();
    await assert.rejects(IvshmemClient.connect(fake.path), /the ivshmem server closed the connection/);
    await sleep(50); // the fake server's end of the connection closes asynchronously
    assert.equal(openFds(), fds);
    fake.close();
  });

  it('rejects an unknown protocol version, a bad id, a shm message without fd', async () => {
    const cases: [string, Buffer, RegExp][] = [
      ['version', int64(1n), /unsupported protocol version 1/],
      ['id', int64(0n, 70000n), /bad own id 70000/],
      ['shm', int64(0n, 3n, -1n), /expected the shared memory \(-1 with an fd\), got -1/],
      ['short', Buffer.from([0, 0, 0]), /a 3-byte message/],
    ];
    for (const [name, bytes, error] of cases) {
      const fake = await fakeServer(name, bytes, false);
      await assert.rejects(IvshmemClient.connect(fake.path), error);
      fake.close();
    }
  });

  it('times out on a server that stops talking', async () => {
    const fake = await fakeServer('silent', int64(0n, 3n), false);
    await assert.rejects(IvshmemClient.connect(fake.path, { timeoutMs: 300 }), /handshake with .* timed out after 300 ms/);
    fake.close();
  });
});
