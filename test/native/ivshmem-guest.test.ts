/**
 * A guest ring reaching the host: a real guest writes our server's peer id
 * and a vector to BAR0's Doorbell register (busybox devmem), and the server
 * receives a ring on exactly that vector. The guest also reads its own id
 * from IVPosition: the one our server gave it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IvshmemServer, doorbellValue, protocol, type PeerInfo } from '../../native/index.ts';
import { Guest } from '../../testkit/guest.ts';

const VECTORS = 2;

describe('guest rings the host through ivshmem-doorbell', { timeout: 300_000 }, () => {
  let dir: string;
  let server: IvshmemServer;
  let guest: Guest;
  let guestPeer: PeerInfo;
  let bar0: bigint;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-ivshmem-guest-'));
    server = await IvshmemServer.listen({
      socketPath: join(dir, 'ivshmem.sock'),
      shmPath: join(dir, 'shm'),
      shmSize: 1 << 20,
      vectors: VECTORS,
    });
    const joined = once(server, 'join') as Promise<[PeerInfo]>;
    guest = await Guest.boot({
      qemuArgs: [
        '-chardev', `socket,path=${server.socketPath},id=ivsh`,
        '-device', `ivshmem-doorbell,chardev=ivsh,vectors=${VECTORS}`,
      ],
    });
    [guestPeer] = await joined;
    const devices = await guest.exec(
      'for d in /sys/bus/pci/devices/*; do echo "$d $(cat $d/vendor) $(cat $d/device)"; done',
    );
    const vendor = `0x${protocol.PCI_VENDOR_ID.toString(16).padStart(4, '0')}`;
    const device = `0x${protocol.PCI_DEVICE_ID.toString(16).padStart(4, '0')}`;
    const path = devices.split('\n').find((l) => l.endsWith(` ${vendor} ${device}`))?.split(' ')[0];
    assert.ok(path !== undefined, `no ivshmem device in:\n${devices}`);
    const resources = (await guest.exec(`cat ${path}/resource`)).trim().split('\n');
    bar0 = BigInt((resources[protocol.BAR_REGS] ?? '').split(' ')[0] ?? '0');
    assert.notEqual(bar0, 0n, `BAR0 not assigned: ${resources.join('; ')}`);
  });

  after(async () => {
    await guest.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const hex = (value: bigint | number): string => `0x${value.toString(16)}`;

  it('the guest reads the id our server gave it from IVPosition', async () => {
    const ivPosition = await guest.exec(`devmem ${hex(bar0 + BigInt(protocol.BAR0_IV_POSITION))} 32`);
    assert.equal(Number(ivPosition.trim()), guestPeer.id);
  });

  for (let vector = 0; vector < VECTORS; vector++) {
    it(`a Doorbell write for (host peer, vector ${vector}) rings the host on vector ${vector}`, async () => {
      const rings: number[] = [];
      const onRing = (v: number): void => {
        rings.push(v);
      };
      server.on('ring', onRing);
      try {
        const value = doorbellValue(server.id, vector);
        const ring = once(server, 'ring') as Promise<[number]>;
        await guest.exec(`devmem ${hex(bar0 + BigInt(protocol.BAR0_DOORBELL))} 32 ${hex(value)}`);
        assert.deepEqual(await ring, [vector]);
        assert.deepEqual(rings, [vector], 'only that vector rang');
      } finally {
        server.off('ring', onRing);
      }
    });
  }

  it('a Doorbell write for an unknown peer is ignored by QEMU', async () => {
    const rings: number[] = [];
    const onRing = (v: number): void => {
      rings.push(v);
    };
    server.on('ring', onRing);
    try {
      await guest.exec(`devmem ${hex(bar0 + BigInt(protocol.BAR0_DOORBELL))} 32 ${hex(doorbellValue(999, 0))}`);
      // A known-good ring afterwards proves the path works and orders the check.
      const ring = once(server, 'ring') as Promise<[number]>;
      await guest.exec(`devmem ${hex(bar0 + BigInt(protocol.BAR0_DOORBELL))} 32 ${hex(doorbellValue(server.id, 1))}`);
      assert.deepEqual(await ring, [1]);
      assert.deepEqual(rings, [1]);
      assert.match(await guest.exec('echo alive'), /alive/);
    } finally {
      server.off('ring', onRing);
    }
  });
});
