/**
 * The protocol constants of kernel/vgpio_shm.h, as exported by the addon
 * (the C compiler evaluates them; nothing here repeats a value). This file
 * only lists the names, without the VGPIO_ prefix, so TypeScript knows them;
 * loading fails if the addon lacks one, and test/native/protocol.unit.test.ts
 * fails if the header gained one that is missing here.
 */
import { binding } from './addon.ts';

export const PROTOCOL_NAMES = [
  'PCI_VENDOR_ID', 'PCI_DEVICE_ID',
  'BAR0_INTR_MASK', 'BAR0_INTR_STATUS', 'BAR0_IV_POSITION', 'BAR0_DOORBELL',
  'BAR_REGS', 'BAR_MSIX', 'BAR_SHM',
  'VECTOR_GUEST', 'VECTOR_HOST', 'VECTORS_MIN',
  'SHM_MAGIC', 'SHM_VERSION', 'SHM_SIZE_MIN',
  'NGPIO_MIN', 'NGPIO_MAX', 'PEER_NONE', 'LABEL_LEN', 'NAME_LEN',
  'FEAT_DOORBELL', 'FEAT_NAMES', 'FEAT_EVENT_RING', 'FEAT_KNOWN',
  'HDR_MAGIC', 'HDR_VERSION', 'HDR_NGPIO', 'HDR_FEATURES', 'HDR_HOST_GEN', 'HDR_HOST_PEER',
  'HDR_GUEST_GEN', 'HDR_GUEST_PEER', 'HDR_LABEL', 'HDR_NAMES_OFF', 'HDR_RING_OFF', 'HDR_RING_LEN',
  'HDR_BANK_OFF', 'HDR_STALE_GEN', 'HDR_SIZE',
  'BANK_LINES', 'BANK_STRIDE', 'BANK_IN', 'BANK_OUT', 'BANK_DIR', 'BANK_IRQ_EN', 'BANK_IRQ_RISE',
  'BANK_IRQ_FALL', 'BANK_IRQ_HIGH', 'BANK_IRQ_LOW', 'BANK_IRQ_RAISE', 'BANK_ACK_REQ', 'BANK_IRQ_ACK',
  'RING_LEN_MIN', 'RING_LEN_MAX', 'RING_LEN_DEFAULT', 'RING_HEAD', 'RING_TAIL', 'RING_DROPPED',
  'RING_HEADER_SIZE',
  'EV_OUTPUT', 'EV_DIRECTION', 'EV_IRQ_CONFIG', 'EV_INPUT_EDGE',
  'IRQ_RISE', 'IRQ_FALL', 'IRQ_HIGH', 'IRQ_LOW', 'IRQ_ENABLED',
  'EVENT_GUEST_NS', 'EVENT_LINE', 'EVENT_KIND', 'EVENT_VALUE', 'EVENT_SEQ', 'EVENT_SIZE',
  'LAYOUT_ALIGN', 'LAYOUT_OK', 'LAYOUT_BAD_NGPIO', 'LAYOUT_BAD_RING_LEN', 'LAYOUT_MISALIGNED',
  'LAYOUT_OVERLAP', 'LAYOUT_OUT_OF_BOUNDS',
] as const;

export type ProtocolName = (typeof PROTOCOL_NAMES)[number];
export type ProtocolConstants = Record<ProtocolName, number>;

function checked(exported: Readonly<Record<string, number>>): Readonly<ProtocolConstants> {
  const missing = PROTOCOL_NAMES.filter((name) => typeof exported[name] !== 'number');
  if (missing.length > 0) {
    throw new Error(
      `the vgpio2mqtt addon lacks protocol constants ${missing.join(', ')}: rebuild it (npm run build) after changing kernel/vgpio_shm.h`,
    );
  }
  return exported as ProtocolConstants;
}

/** Every numeric constant of kernel/vgpio_shm.h, e.g. protocol.SHM_MAGIC for VGPIO_SHM_MAGIC. */
export const protocol: Readonly<ProtocolConstants> = checked(binding.protocol);

/**
 * VGPIO_DOORBELL_VALUE(): the word a guest writes to BAR0 + protocol.BAR0_DOORBELL
 * to ring vector `vector` of ivshmem peer `peer` (both 0..0xffff, else RangeError).
 */
export function doorbellValue(peer: number, vector: number): number {
  return binding.doorbellValue(peer, vector);
}
