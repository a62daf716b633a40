/**
 * Protocol conformance against the real qemu-system-x86_64: our server's
 * handshake is accepted by QEMU's ivshmem-doorbell device (it gets the id
 * and shared memory we sent), a client-mode peer sees QEMU like QEMU sees
 * it, and QEMU quitting is a leave. No guest OS: QEMU's monitor reads the
 * device registers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IvshmemClient, IvshmemServer, protocol, type PeerInfo } from '../../native/index.ts';
import { QemuPeer } from './qemu-peer.ts';

const SHM_SIZE = 1 << 20;
const VECTORS = 2;

describe('ivshmem server with a real QEMU peer', { timeout: 120_000 }, () => {
  let dir: string;
  let server: IvshmemServer;
  let qemu: QemuPeer;
  let qemuPeer: PeerInfo;
  let client: IvshmemClient | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-ivshmem-qemu-'));
    server = await IvshmemServer.listen({
      socketPath: join(dir, 'ivshmem.sock'),
      shmPath: join(dir, 'shm'),
      shmSize: SHM_SIZE,
      vectors: VECTORS,
    });
    const joined = once(server, 'join') as Promise<[PeerInfo]>;
    qemu = new QemuPeer(server.socketPath, VECTORS);
    [qemuPeer] = await joined;
    await qemu.start();
  });

  after(async () => {
    qemu.kill();
    await client?.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('QEMU joins with the vector count of the server and stays up', async () => {
    assert.deepEqual(qemuPeer, { id: 1, vectors: VECTORS });
    assert.deepEqual(server.peers(), [qemuPeer]);
    assert.match(await qemu.hmp('info status'), /VM status: running/);
    assert.equal(qemu.stderr, '', 'QEMU reported no error');
  });

  it('QEMU took our handshake: IVPosition is the id we sent, BAR2 is our shared memory', async () => {
    const bars = await qemu.bars();
    assert.equal(await qemu.read32(bars.bar0 + BigInt(protocol.BAR0_IV_POSITION)), qemuPeer.id);
    assert.equal(bars.bar2Size, BigInt(SHM_SIZE));
    server.shm.store32(0x100, protocol.SHM_MAGIC);
    server.shm.store32(SHM_SIZE - 4, 0x12345678);
    assert.equal(await qemu.read32(bars.bar2 + 0x100n), protocol.SHM_MAGIC);
    assert.equal(await qemu.read32(bars.bar2 + BigInt(SHM_SIZE - 4)), 0x12345678);
  });

  it('a client-mode peer and QEMU see each other through the server', async () => {
    const serverSawClient = once(server, 'join') as Promise<[PeerInfo]>;
    const peer = await IvshmemClient.connect(server.socketPath);
    client = peer;
    const [joined] = await serverSawClient;
    assert.equal(joined.id, peer.id);
    assert.equal(peer.id, 2, 'ids are handed out in order');
    assert.equal(peer.vectors, VECTORS);
    assert.deepEqual(
      peer.peers().sort((a, b) => a.id - b.id),
      [{ id: server.id, vectors: VECTORS }, qemuPeer],
    );
    assert.equal(peer.shm.size, SHM_SIZE);
    assert.equal(peer.shm.load32(0x100), protocol.SHM_MAGIC);
    // The client's join reached QEMU without upsetting it (it rejects bad messages).
    assert.match(await qemu.hmp('info status'), /VM status: running/);
    assert.equal(qemu.stderr, '');
  });

  it('QEMU quitting is a leave, for the server and for the other peers', async () => {
    const peer = client;
    assert.ok(peer !== undefined, 'the client-mode peer joined');
    const serverLeave = once(server, 'leave') as Promise<[number]>;
    const clientLeave = once(peer, 'leave') as Promise<[number]>;
    assert.equal(await qemu.quit(), 0);
    assert.deepEqual(await serverLeave, [qemuPeer.id]);
    assert.deepEqual(await clientLeave, [qemuPeer.id]);
    assert.deepEqual(server.peers(), [{ id: peer.id, vectors: VECTORS }]);
    assert.deepEqual(peer.peers(), [{ id: server.id, vectors: VECTORS }]);
  });

  it('QEMU with fewer vectors= than the server complains and loses the extra vectors', { timeout: 60_000 }, async () => {
    const joined = once(server, 'join') as Promise<[PeerInfo]>;
    const small = new QemuPeer(server.socketPath, 1);
    try {
      const [peer] = await joined;
      await small.start();
      await small.waitForStderr(/Too many eventfd received, device has 1 vectors/);
      assert.match(await small.hmp('info status'), /VM status: running/, 'it is not fatal');
      const leave = once(server, 'leave') as Promise<[number]>;
      assert.equal(await small.quit(), 0);
      assert.deepEqual(await leave, [peer.id]);
    } finally {
      small.kill();
    }
  });
});

/**
 * Why the bridge runs its ivshmem server in a process of its own: QEMU
 * joins a server once. A server that goes away and listens again on the
 * same socket never sees QEMU come back, even with `reconnect=1`.
 */
describe('QEMU and an ivshmem server that goes away', { timeout: 120_000 }, () => {
  for (const chardev of ['', 'reconnect=1']) {
    it(`QEMU keeps running but never joins the restarted server (${chardev === '' ? 'default chardev' : chardev})`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vgpio-ivshmem-gone-'));
      const options = { socketPath: join(dir, 'ivshmem.sock'), shmPath: join(dir, 'shm'), shmSize: SHM_SIZE, vectors: VECTORS };
      let server = await IvshmemServer.listen(options);
      const joined = once(server, 'join') as Promise<[PeerInfo]>;
      const qemu = new QemuPeer(server.socketPath, VECTORS, chardev);
      try {
        await joined;
        await server.close();
        server = await IvshmemServer.listen(options);
        const joins: PeerInfo[] = [];
        server.on('join', (peer) => joins.push(peer));
        // reconnect=1 would retry within a second; give it several.
        const exited = await Promise.race([qemu.exited.then(() => true), new Promise((resolve) => setTimeout(resolve, 5000, false))]);
        assert.equal(exited, false, `QEMU keeps running: ${qemu.stderr}`);
        assert.deepEqual(joins, [], 'QEMU did not rejoin');
      } finally {
        qemu.kill();
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
