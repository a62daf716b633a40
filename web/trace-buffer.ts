/**
 * One line's recent history for the waveform: a ring of events (host wall
 * clock in ms, the line's level after the event, what kind of event), kept
 * in typed arrays so memory is bounded and known: it starts small, doubles
 * while the line is busy, and past `capacity` the oldest events are
 * overwritten. Events are kept in time order (a late one is placed at the
 * newest time seen) so a window is found by binary search.
 */

/** What an event on a line was; the level trace changes only with STATE, HOST_EDGE and GUEST_EDGE. */
export const Kind = {
  /** A retained or refreshed state, not an edge. */
  STATE: 0,
  /** The host changed an input (edge `source: host`). */
  HOST_EDGE: 1,
  /** The guest drove an output (edge `source: guest`). */
  GUEST_EDGE: 2,
  /** The guest confirmed a consumer received an input edge (`.../received`). */
  RECEIVED: 3,
  /** The guest agent saw an edge (`.../agent/edge`). */
  AGENT_EDGE: 4,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** Events kept per line by default: 10 minutes of a line toggling at 1,700 edges/s; 9 bytes each, allocated as the line gets busy. */
export const DEFAULT_CAPACITY = 1 << 20;
const INITIAL = 256;

export class TraceBuffer {
  readonly capacity: number;
  #time: Float64Array;
  #level: Uint8Array;
  #kind: Uint8Array;
  /** Index of the oldest event in the arrays. */
  #start = 0;
  #length = 0;
  /** Events dropped because the ring was full. */
  overwritten = 0;

  constructor(capacity = DEFAULT_CAPACITY) {
    if (!Number.isInteger(Math.log2(capacity)) || capacity < 2) throw new Error(`trace capacity must be a power of two >= 2, got ${capacity}`);
    this.capacity = capacity;
    const size = Math.min(INITIAL, capacity);
    this.#time = new Float64Array(size);
    this.#level = new Uint8Array(size);
    this.#kind = new Uint8Array(size);
  }

  get length(): number {
    return this.#length;
  }

  /** Bytes held by the arrays (what grows, up to capacity * 10). */
  get bytes(): number {
    return this.#time.byteLength + this.#level.byteLength + this.#kind.byteLength;
  }

  #slot(index: number): number {
    return (this.#start + index) & (this.#time.length - 1);
  }

  #grow(): void {
    const size = this.#time.length * 2;
    const time = new Float64Array(size);
    const level = new Uint8Array(size);
    const kind = new Uint8Array(size);
    for (let i = 0; i < this.#length; i += 1) {
      const s = this.#slot(i);
      time[i] = this.#time[s] ?? 0;
      level[i] = this.#level[s] ?? 0;
      kind[i] = this.#kind[s] ?? 0;
    }
    this.#time = time;
    this.#level = level;
    this.#kind = kind;
    this.#start = 0;
  }

  /** Appends an event; `level` is the line's level after it. */
  push(timeMs: number, level: 0 | 1, kind: Kind): void {
    const last = this.#length === 0 ? -Infinity : this.time(this.#length - 1);
    if (this.#length === this.#time.length) {
      if (this.#time.length < this.capacity) this.#grow();
      else {
        this.#start = (this.#start + 1) & (this.#time.length - 1);
        this.#length -= 1;
        this.overwritten += 1;
      }
    }
    const s = this.#slot(this.#length);
    this.#time[s] = Math.max(timeMs, last);
    this.#level[s] = level;
    this.#kind[s] = kind;
    this.#length += 1;
  }

  time(index: number): number {
    return this.#time[this.#slot(index)] ?? NaN;
  }

  level(index: number): 0 | 1 {
    return this.#level[this.#slot(index)] === 1 ? 1 : 0;
  }

  kind(index: number): Kind {
    return (this.#kind[this.#slot(index)] ?? 0) as Kind;
  }

  /** Index of the last event at or before `timeMs`, or -1 when there is none. */
  indexAt(timeMs: number): number {
    let lo = 0;
    let hi = this.#length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.time(mid) <= timeMs) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** The level at `timeMs`, or undefined before the first event. */
  levelAt(timeMs: number): 0 | 1 | undefined {
    const i = this.indexAt(timeMs);
    return i < 0 ? undefined : this.level(i);
  }

  get oldest(): number | undefined {
    return this.#length === 0 ? undefined : this.time(0);
  }
}
