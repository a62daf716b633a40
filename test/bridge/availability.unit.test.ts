/**
 * The availability rule on its own (bridge/chip/availability.ts): a bound
 * driver, in a connected peer, whose generation is not the one the server
 * recorded as stale.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { protocol } from '../../native/index.ts';
import { guestAvailability, markStale, readEvidence } from '../../bridge/chip/availability.ts';

describe('guest availability', () => {
  it('needs a bound driver (odd guest_gen)', () => {
    assert.deepEqual(guestAvailability({ guestGen: 4, guestPeer: 2, staleGen: 0, peers: [2] }), { online: false, why: 'no driver bound' });
    assert.deepEqual(guestAvailability({ guestGen: 4, guestPeer: 2, staleGen: 0, peers: null }), { online: false, why: 'no driver bound' });
  });

  it('trusts the driver\'s word in polling mode, where there is no server', () => {
    assert.deepEqual(guestAvailability({ guestGen: 5, guestPeer: protocol.PEER_NONE, staleGen: 5, peers: null }), { online: true });
  });

  it('needs the guest\'s peer to be connected', () => {
    assert.deepEqual(guestAvailability({ guestGen: 5, guestPeer: 3, staleGen: 0, peers: [2] }), { online: false, why: 'peer 3 is not connected' });
  });

  it('does not count a generation the server recorded as stale: a new QEMU with the old peer id and no driver', () => {
    assert.deepEqual(guestAvailability({ guestGen: 115, guestPeer: 2, staleGen: 115, peers: [1, 2] }), {
      online: false,
      why: 'no driver has bound since this peer joined',
    });
    assert.deepEqual(guestAvailability({ guestGen: 117, guestPeer: 2, staleGen: 115, peers: [1, 2] }), { online: true });
  });

  it('reads the evidence from the header, and marks a generation stale only for the guest\'s own peer', () => {
    const words = new Map<number, number>([
      [protocol.HDR_GUEST_GEN, 9],
      [protocol.HDR_GUEST_PEER, 4],
      [protocol.HDR_STALE_GEN, 3],
    ]);
    const mem = { load32: (o: number) => words.get(o) ?? 0, store32: (o: number, v: number) => void words.set(o, v) };
    assert.deepEqual(readEvidence(mem, [4]), { guestGen: 9, guestPeer: 4, staleGen: 3, peers: [4] });
    markStale(mem, 5);
    assert.equal(words.get(protocol.HDR_STALE_GEN), 3, 'another peer left');
    markStale(mem, 4);
    assert.equal(words.get(protocol.HDR_STALE_GEN), 9, 'the guest\'s peer left');
    words.set(protocol.HDR_GUEST_GEN, 11);
    markStale(mem);
    assert.equal(words.get(protocol.HDR_STALE_GEN), 11, 'the server started');
  });
});
