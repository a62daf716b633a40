/**
 * When a chip's guest counts as online, and the ivshmem server's half of
 * that rule. `guest_gen` (odd = a driver is bound) and `guest_peer` are
 * written by whichever driver last bound, possibly in a QEMU that has since
 * gone: a new QEMU can get the same peer id and find both words as its
 * predecessor left them. So the server records in the host-owned word
 * `stale_gen` the `guest_gen` that proves nothing about its current peers:
 * the value when the server started (every guest of an earlier server is
 * gone or stranded) and when the peer named by `guest_peer` left. A guest is
 * online once its driver bound after that: `guest_gen` odd and different
 * from `stale_gen`, and `guest_peer` one of the server's peers. A bridge
 * restart does not touch `stale_gen`, so a guest that stayed is online again
 * at once; a new QEMU stays offline until its driver binds.
 */
import { protocol } from '../../native/index.ts';
import type { SharedRegisters } from '../shm/region.ts';

export interface GuestEvidence {
  guestGen: number;
  guestPeer: number;
  staleGen: number;
  /** The peers on the chip's ivshmem server; null in plain mode (no server, no peers to check). */
  peers: readonly number[] | null;
}

export type Availability = { online: true } | { online: false; why: string };

export function guestAvailability(evidence: GuestEvidence): Availability {
  const { guestGen, guestPeer, staleGen, peers } = evidence;
  if ((guestGen & 1) !== 1) return { online: false, why: 'no driver bound' };
  // Polling mode has no server: nobody records stale generations, the driver's word is all there is.
  if (peers === null) return { online: true };
  if (!peers.includes(guestPeer)) return { online: false, why: `peer ${guestPeer} is not connected` };
  if (guestGen === staleGen) return { online: false, why: 'no driver has bound since this peer joined' };
  return { online: true };
}

/** The evidence as shared memory holds it now. */
export function readEvidence(mem: Pick<SharedRegisters, 'load32'>, peers: readonly number[] | null): GuestEvidence {
  return {
    guestGen: mem.load32(protocol.HDR_GUEST_GEN),
    guestPeer: mem.load32(protocol.HDR_GUEST_PEER),
    staleGen: mem.load32(protocol.HDR_STALE_GEN),
    peers,
  };
}

/**
 * The server's side: call on start (before any peer can join) with no
 * peer, and on every leave with the peer that left. Marks the current
 * `guest_gen` as proving nothing when the guest it may belong to is gone.
 */
export function markStale(mem: Pick<SharedRegisters, 'load32' | 'store32'>, left?: number): void {
  if (left !== undefined && mem.load32(protocol.HDR_GUEST_PEER) !== left) return;
  mem.store32(protocol.HDR_STALE_GEN, mem.load32(protocol.HDR_GUEST_GEN));
}
