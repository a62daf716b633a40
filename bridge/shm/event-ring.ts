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
      const entry = this.#mem.read(off, protocol.EVENT_SIZE);
      const event: RingEvent = {
        guestNs: entry.readBigUInt64LE(protocol.EVENT_GUEST_NS),
        line: entry.readUInt16LE(protocol.EVENT_LINE),
        kind: entry.readUInt8(protocol.EVENT_KIND),
        value: entry.readUInt8(protocol.EVENT_VALUE),
        seq: entry.readUInt32LE(protocol.EVENT_SEQ),
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
