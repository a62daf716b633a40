/**
 * The last seconds of each chip's edges (host and guest, as published on
 * `.../edge`), so a newly opened web page can draw what happened before it
 * was opened (`bridge/request/trace`). BridgeApi hands it the chips' `edge`
 * events; nothing calls it from the edge path.
 *
 * Memory is fixed per chip: a ring of RECENT_EDGES edges in typed arrays
 * (8 + 8 + 4 + 2 + 1 bytes each: about 92 KiB per chip), allocated at the
 * chip's first edge, not when it is tracked: a bridge of 256 idle chips
 * would otherwise hold 23 MiB of empty rings (issue 25).
 * Edges older than RECENT_MS are left out of answers.
 */
import type { Chip, EdgeEvent } from '../chip/chip.ts';

/** Edges kept per chip. */
export const RECENT_EDGES = 4096;
/** Oldest edge answered, in ms before now. */
export const RECENT_MS = 10_000;

/** One edge as `bridge/response/trace` carries it: the `.../edge` payload plus the line's topic name. */
export interface TracedEdge {
  line: string;
  edge: 'rising' | 'falling';
  source: 'host' | 'guest';
  seq: number;
  ts_ms: number;
  guest_ns?: number;
}

const RISING = 1;
const GUEST = 2;

/** A ring's columns, one entry per edge. */
class Columns {
  readonly tsMs = new Float64Array(RECENT_EDGES);
  /** NaN: the guest gave no time. */
  readonly guestNs = new Float64Array(RECENT_EDGES);
  readonly seq = new Uint32Array(RECENT_EDGES);
  readonly line = new Uint16Array(RECENT_EDGES);
  readonly flags = new Uint8Array(RECENT_EDGES);

  get bytes(): number {
    return this.tsMs.byteLength + this.guestNs.byteLength + this.seq.byteLength + this.line.byteLength + this.flags.byteLength;
  }
}

/** One chip's ring. */
class ChipRing {
  readonly #chip: Chip;
  /** Undefined until the chip's first edge. */
  #columns: Columns | undefined;
  /** Edges ever pushed; the newest is at (count - 1) % RECENT_EDGES. */
  #count = 0;

  constructor(chip: Chip) {
    this.#chip = chip;
  }

  get bytes(): number {
    return this.#columns?.bytes ?? 0;
  }

  push(edge: EdgeEvent): void {
    const c = (this.#columns ??= new Columns());
    const i = this.#count % RECENT_EDGES;
    c.tsMs[i] = edge.tsMs;
    c.guestNs[i] = edge.guestNs ?? Number.NaN;
    c.seq[i] = edge.seq;
    c.line[i] = edge.line.line;
    c.flags[i] = (edge.edge === 'rising' ? RISING : 0) | (edge.source === 'guest' ? GUEST : 0);
    this.#count += 1;
  }

  /** The kept edges not older than `sinceMs`, oldest first. */
  edges(sinceMs: number): TracedEdge[] {
    const out: TracedEdge[] = [];
    const c = this.#columns;
    if (c === undefined) return out;
    const lines = this.#chip.config.lines;
    for (let n = Math.max(0, this.#count - RECENT_EDGES); n < this.#count; n += 1) {
      const i = n % RECENT_EDGES;
      const tsMs = c.tsMs[i] ?? 0;
      if (tsMs < sinceMs) continue;
      const flags = c.flags[i] ?? 0;
      const guestNs = c.guestNs[i] ?? Number.NaN;
      out.push({
        line: lines[c.line[i] ?? 0]?.name ?? String(c.line[i]),
        edge: (flags & RISING) !== 0 ? 'rising' : 'falling',
        source: (flags & GUEST) !== 0 ? 'guest' : 'host',
        seq: c.seq[i] ?? 0,
        ts_ms: tsMs,
        ...(Number.isNaN(guestNs) ? {} : { guest_ns: guestNs }),
      });
    }
    return out;
  }
}

export class RecentTrace {
  readonly #rings = new Map<string, ChipRing>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /**
   * Starts keeping `chip`'s edges: returns the listener its `edge` event
   * must call (the owner adds it, and removes it when it stops; the kept
   * edges stay readable).
   */
  track(chip: Chip): (edge: EdgeEvent) => void {
    const ring = new ChipRing(chip);
    this.#rings.set(chip.config.name, ring);
    return (edge) => {
      ring.push(edge);
    };
  }

  /** The bytes the rings hold (the scale test's figure: none before a chip's first edge). */
  get bytes(): number {
    let sum = 0;
    for (const ring of this.#rings.values()) sum += ring.bytes;
    return sum;
  }

  /** The chip's edges of the last RECENT_MS, oldest first; undefined for a chip not followed. */
  edges(chip: string): TracedEdge[] | undefined {
    return this.#rings.get(chip)?.edges(this.#now() - RECENT_MS);
  }
}
