/**
 * The host's end of the guest -> host event ring: a single consumer that
 * reads entries up to the guest's `head`, publishes its `tail`, and notices
 * when the guest dropped entries or wrote nonsense. Everything read from
 * the ring is untrusted: a bad head, line or kind is reported, never
 * followed.
 */
import { protocol } from '../../native/index.ts';
import type { SharedRegisters } from './region.ts';

export interface RingEvent {
  /** Guest monotonic clock, nanoseconds. */
  guestNs: bigint;
  line: number;
  /** protocol.EV_* */
  kind: number;
  value: number;
  seq: number;
}

export interface DrainResult {
  events: RingEvent[];
  /** Entries the guest dropped (ring full) since the last drain: the host must resynchronise from the banks. */
  dropped: number;
  /** The head was further ahead than the ring holds: entries were skipped, resynchronise. */
  corrupt: boolean;
  /** Entries with a line past ngpio or an unknown kind, skipped. */
  invalid: number;
  /** The guest's `dropped` counter moved by more than it can have (or backwards): not counted, resynchronise. */
  implausibleDrop: number;
}

/**
 * The most drops one drain can plausibly see: far more than a guest can
 * produce between two polls, far less than a scribbled counter's jump.
 */
export const MAX_DROPS_PER_DRAIN = 1 << 20;

const KINDS = new Set<number>([protocol.EV_OUTPUT, protocol.EV_DIRECTION, protocol.EV_IRQ_CONFIG, protocol.EV_INPUT_EDGE]);

/**
 * The field at byte `offset` (a 1- or 2-byte field, `mask` wide) from the
 * aligned little-endian word that holds it: no field of an entry crosses a
 * word (kernel/vgpio_shm.h lays them out so).
 */
function entryField(mem: SharedRegisters, offset: number, mask: number): number {
  const inWord = offset % 4;
  return (mem.load32(offset - inWord) >>> (inWord * 8)) & mask;
}

export class EventRingReader {
  readonly #mem: SharedRegisters;
  readonly #ringOff: number;
  readonly #ringLen: number;
  readonly #ngpio: number;
  #lastDropped: number;

  constructor(mem: SharedRegisters, ringOff: number, ringLen: number, ngpio: number) {
    this.#mem = mem;
    this.#ringOff = ringOff;
    this.#ringLen = ringLen;
    this.#ngpio = ngpio;
    this.#lastDropped = mem.load32(ringOff + protocol.RING_DROPPED);
  }

  /** Entries produced but not consumed yet (as far as the head can be trusted). */
  get backlog(): number {
    return this.#distance();
  }

  #distance(): number {
    const head = this.#mem.load32(this.#ringOff + protocol.RING_HEAD);
    const tail = this.#mem.load32(this.#ringOff + protocol.RING_TAIL);
    return (head - tail) >>> 0;
  }

  drain(): DrainResult {
    const head = this.#mem.load32(this.#ringOff + protocol.RING_HEAD);
    let tail = this.#mem.load32(this.#ringOff + protocol.RING_TAIL);
    const result: DrainResult = { events: [], dropped: 0, corrupt: false, invalid: 0, implausibleDrop: 0 };

    const available = (head - tail) >>> 0;
    if (available > this.#ringLen) {
      result.corrupt = true;
      tail = head;
    }
    while (tail !== head) {
      const off = this.#ringOff + protocol.RING_HEADER_SIZE + (tail % this.#ringLen) * protocol.EVENT_SIZE;
      const mem = this.#mem;
      // Word loads, not a copy of the entry: a copy is a call into the addon and a new Buffer (~9 us of a
      // guest output's ~60 us in the bridge, profiled); an entry is complete once the head we read covers it.
      const event: RingEvent = {
        guestNs: (BigInt(mem.load32(off + protocol.EVENT_GUEST_NS + 4)) << 32n) | BigInt(mem.load32(off + protocol.EVENT_GUEST_NS)),
        line: entryField(mem, off + protocol.EVENT_LINE, 0xffff),
        kind: entryField(mem, off + protocol.EVENT_KIND, 0xff),
        value: entryField(mem, off + protocol.EVENT_VALUE, 0xff),
        seq: mem.load32(off + protocol.EVENT_SEQ),
      };
      if (event.line < this.#ngpio && KINDS.has(event.kind)) result.events.push(event);
      else result.invalid += 1;
      tail = (tail + 1) >>> 0;
    }
    this.#mem.store32(this.#ringOff + protocol.RING_TAIL, tail);

    const dropped = this.#mem.load32(this.#ringOff + protocol.RING_DROPPED);
    const delta = (dropped - this.#lastDropped) >>> 0;
    this.#lastDropped = dropped;
    if (delta > MAX_DROPS_PER_DRAIN) result.implausibleDrop = delta;
    else result.dropped = delta;
    return result;
  }
}
