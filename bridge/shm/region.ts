/**
 * The host's view of one vgpio shared-memory region (the protocol version
 * of kernel/vgpio_shm.h, SHM_VERSION): writes
 * the header and tables when the host (re)initialises it, re-attaches to a
 * region a previous bridge run left behind, and reads the words the guest
 * owns. Offsets and constants come from the addon (kernel/vgpio_shm.h);
 * none is spelt out here.
 */
import { checkLayout, defaultLayout, protocol, type SharedMemory, type ShmLayout } from '../../native/index.ts';

/** The subset of SharedMemory the protocol code needs (so unit tests can hand in a plain buffer). */
export type SharedRegisters = Pick<
  SharedMemory,
  'size' | 'load32' | 'store32' | 'fetchOr32' | 'fetchAnd32' | 'compareExchange32' | 'read' | 'write'
>;

export interface RegionConfig {
  ngpio: number;
  /** gpiochip label the guest shows; at most LABEL_LEN - 1 bytes of UTF-8. */
  label: string;
  /** Line names by line number; missing or empty entries leave the line unnamed. */
  names?: readonly (string | undefined)[];
  /** True when guests get interrupts through an ivshmem server (ivshmem-doorbell). */
  doorbell: boolean;
  /** The bridge's own peer id, or protocol.PEER_NONE in polling mode. */
  hostPeer: number;
  ringLen?: number;
}

/** Thrown when a region cannot be used as it is; `reason` says why in words. */
export class RegionError extends Error {
  override readonly name = 'RegionError';
}

const LAYOUT_REASONS = new Map<number, string>([
  [protocol.LAYOUT_BAD_NGPIO, `line count outside ${protocol.NGPIO_MIN}..${protocol.NGPIO_MAX}`],
  [protocol.LAYOUT_BAD_RING_LEN, `ring length not a power of two in ${protocol.RING_LEN_MIN}..${protocol.RING_LEN_MAX}`],
  [protocol.LAYOUT_MISALIGNED, 'a table offset is misaligned'],
  [protocol.LAYOUT_OVERLAP, 'two tables overlap'],
  [protocol.LAYOUT_OUT_OF_BOUNDS, 'a table lies outside the region'],
]);

/** Encodes `text` as NUL-padded UTF-8 of `size` bytes, refusing what does not fit. */
export function paddedUtf8(text: string, size: number, what: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length >= size) {
    throw new RegionError(`${what} "${text}" is ${bytes.length} bytes of UTF-8; at most ${size - 1} fit`);
  }
  const out = Buffer.alloc(size);
  bytes.copy(out);
  return out;
}

/** The label and names table as they are stored. */
function encodeIdentity(config: RegionConfig): { label: Buffer; names: Buffer } {
  const names = Buffer.alloc(config.ngpio * protocol.NAME_LEN);
  (config.names ?? []).forEach((name, line) => {
    if (name !== undefined && name !== '' && line < config.ngpio) {
      paddedUtf8(name, protocol.NAME_LEN, `name of line ${line}`).copy(names, line * protocol.NAME_LEN);
    }
  });
  return { label: paddedUtf8(config.label, protocol.LABEL_LEN, 'chip label'), names };
}

function layoutOf(mem: SharedRegisters): ShmLayout {
  return {
    ngpio: mem.load32(protocol.HDR_NGPIO),
    namesOff: mem.load32(protocol.HDR_NAMES_OFF),
    bankOff: mem.load32(protocol.HDR_BANK_OFF),
    ringOff: mem.load32(protocol.HDR_RING_OFF),
    ringLen: mem.load32(protocol.HDR_RING_LEN),
    end: 0,
  };
}

export class VgpioRegion {
  readonly mem: SharedRegisters;
  readonly layout: ShmLayout;
  readonly features: number;

  private constructor(mem: SharedRegisters, layout: ShmLayout, features: number) {
    this.mem = mem;
    this.layout = layout;
    this.features = features;
  }

  get ngpio(): number {
    return this.layout.ngpio;
  }

  /** The smallest power-of-two region size that holds `ngpio` lines and a ring of `ringLen`. */
  static requiredSize(ngpio: number, ringLen: number = protocol.RING_LEN_DEFAULT): number {
    const { end } = defaultLayout(ngpio, ringLen);
    let size: number = protocol.SHM_SIZE_MIN;
    while (size < end) size *= 2;
    return size;
  }

  /**
   * Writes a fresh header and tables. The magic is written last, after a
   * release store of everything else, so a guest probing meanwhile refuses
   * the region instead of reading half of it. host_gen moves on from what
   * the region held, so a guest can tell this is a new host.
   */
  static initialise(mem: SharedRegisters, config: RegionConfig): VgpioRegion {
    const ringLen = config.ringLen ?? protocol.RING_LEN_DEFAULT;
    const layout = defaultLayout(config.ngpio, ringLen);
    const reason = checkLayout(layout, mem.size, true, true);
    if (reason !== protocol.LAYOUT_OK) {
      throw new RegionError(`cannot lay out ${config.ngpio} lines in ${mem.size} bytes: ${LAYOUT_REASONS.get(reason) ?? `reason ${reason}`}`);
    }
    // Encode first: a label or name that does not fit must fail before anything is written.
    const identity = encodeIdentity(config);
    const previousGen = mem.load32(protocol.HDR_MAGIC) === protocol.SHM_MAGIC ? mem.load32(protocol.HDR_HOST_GEN) : 0;
    mem.store32(protocol.HDR_MAGIC, 0);
    // Clear everything past the magic: stale banks or ring contents must not leak into the new region.
    mem.write(4, Buffer.alloc(layout.end - 4));
    mem.write(protocol.HDR_LABEL, identity.label);
    mem.write(layout.namesOff, identity.names);
    const features =
      protocol.FEAT_NAMES | protocol.FEAT_EVENT_RING | (config.doorbell ? protocol.FEAT_DOORBELL : 0);
    mem.store32(protocol.HDR_VERSION, protocol.SHM_VERSION);
    mem.store32(protocol.HDR_NGPIO, config.ngpio);
    mem.store32(protocol.HDR_FEATURES, features);
    mem.store32(protocol.HDR_HOST_GEN, (previousGen + 1) >>> 0);
    mem.store32(protocol.HDR_HOST_PEER, config.hostPeer);
    mem.store32(protocol.HDR_GUEST_PEER, protocol.PEER_NONE);
    mem.store32(protocol.HDR_NAMES_OFF, layout.namesOff);
    mem.store32(protocol.HDR_RING_OFF, layout.ringOff);
    mem.store32(protocol.HDR_RING_LEN, layout.ringLen);
    mem.store32(protocol.HDR_BANK_OFF, layout.bankOff);
    mem.store32(protocol.HDR_MAGIC, protocol.SHM_MAGIC);
    return new VgpioRegion(mem, layout, features);
  }

  /**
   * Re-attaches to a region a previous host wrote, keeping every line's
   * level (a bridge restart must not glitch the guest's inputs). Throws
   * RegionError when the region is not a valid region of this protocol
   * version for `config` (a region an older bridge left is not); the caller
   * then decides whether to initialise it afresh.
   */
  static attach(mem: SharedRegisters, config: RegionConfig): VgpioRegion {
    const magic = mem.load32(protocol.HDR_MAGIC);
    if (magic !== protocol.SHM_MAGIC) {
      throw new RegionError(`no vgpio header (magic 0x${magic.toString(16)})`);
    }
    const version = mem.load32(protocol.HDR_VERSION);
    if (version !== protocol.SHM_VERSION) throw new RegionError(`protocol version ${version}, expected ${protocol.SHM_VERSION}`);
    const layout = layoutOf(mem);
    const reason = checkLayout(layout, mem.size, true, true);
    if (reason !== protocol.LAYOUT_OK) throw new RegionError(`bad layout: ${LAYOUT_REASONS.get(reason) ?? `reason ${reason}`}`);
    if (layout.ngpio !== config.ngpio) {
      throw new RegionError(`region has ${layout.ngpio} lines, configuration says ${config.ngpio}`);
    }
    const ringLen = config.ringLen ?? protocol.RING_LEN_DEFAULT;
    if (layout.ringLen !== ringLen) throw new RegionError(`region has a ${layout.ringLen}-entry ring, configuration says ${ringLen}`);
    const region = new VgpioRegion(mem, { ...layout, end: defaultLayout(layout.ngpio, layout.ringLen).end }, mem.load32(protocol.HDR_FEATURES));
    const wantDoorbell = config.doorbell ? protocol.FEAT_DOORBELL : 0;
    if ((region.features & protocol.FEAT_DOORBELL) !== wantDoorbell) {
      throw new RegionError(`region was set up ${config.doorbell ? 'without' : 'with'} doorbells`);
    }
    // Label and names may have changed in the configuration: they are the host's to rewrite.
    const identity = encodeIdentity(config);
    mem.write(protocol.HDR_LABEL, identity.label);
    mem.write(layout.namesOff, identity.names);
    mem.store32(protocol.HDR_HOST_PEER, config.hostPeer);
    return region;
  }

  /** Attaches when the region holds a compatible region of this version, else initialises it. */
  static open(mem: SharedRegisters, config: RegionConfig): { region: VgpioRegion; reattached: boolean } {
    try {
      return { region: VgpioRegion.attach(mem, config), reattached: true };
    } catch (error) {
      if (!(error instanceof RegionError)) throw error;
      return { region: VgpioRegion.initialise(mem, config), reattached: false };
    }
  }

  get hostGen(): number {
    return this.mem.load32(protocol.HDR_HOST_GEN);
  }

  /** The guest driver's generation: odd while a driver is bound. */
  get guestGen(): number {
    return this.mem.load32(protocol.HDR_GUEST_GEN);
  }

  get guestBound(): boolean {
    return (this.guestGen & 1) === 1;
  }

  /** The guest's ivshmem peer id as its driver reported it, or PEER_NONE. */
  get guestPeer(): number {
    return this.mem.load32(protocol.HDR_GUEST_PEER);
  }

  set hostPeer(id: number) {
    this.mem.store32(protocol.HDR_HOST_PEER, id);
  }

  get hostPeer(): number {
    return this.mem.load32(protocol.HDR_HOST_PEER);
  }
}
