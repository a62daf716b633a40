/**
 * The shared-memory layout helpers of kernel/vgpio_shm.h, run as the C
 * code itself (through the addon) so host and guest can never disagree.
 */
import { binding } from './addon.ts';

export interface ShmLayout {
  ngpio: number;
  namesOff: number;
  bankOff: number;
  ringOff: number;
  ringLen: number;
  /** First byte past the last table. */
  end: number;
}

/**
 * vgpio_shm_default_layout(): header, names, banks and ring, 64-byte aligned.
 * ngpio must be in protocol.NGPIO_MIN..NGPIO_MAX and ringLen in
 * 0..protocol.RING_LEN_MAX (RangeError otherwise); pass the result to
 * checkLayout to validate the ring length and the region size.
 */
export function defaultLayout(ngpio: number, ringLen: number): ShmLayout {
  return binding.defaultLayout(ngpio, ringLen);
}

/**
 * vgpio_shm_check_layout(): protocol.LAYOUT_OK, or the LAYOUT_* reason the
 * layout is unusable in a region of `size` bytes.
 */
export function checkLayout(layout: ShmLayout, size: number, hasNames: boolean, hasRing: boolean): number {
  return binding.checkLayout(layout, size, hasNames, hasRing);
}
