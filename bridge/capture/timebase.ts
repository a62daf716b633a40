/**
 * One timebase for host and guest edges (docs/capture.md, "Timebase").
 *
 * The host wall clock (`ts_ms`, stamped by the bridge) is the timebase.
 * Guest edges that carry the guest's CLOCK_MONOTONIC (`guest_ns`) are placed
 * at `guest_ns + offset`, one offset per guest boot, so their spacing stays
 * exact to the nanosecond. The offset is the smallest `host - guest` over
 * the boot's edges: the bridge always stamps an edge after the guest made
 * it, so the smallest difference is the one with the least delay in
 * between (the usual estimate for a one-way clock offset).
 */
import type { VcdChange } from './vcd.ts';

export interface TimedEdge {
  signal: number;
  level: 0 | 1;
  hostMs: number;
  guestNs?: number;
}

export interface Timeline {
  /** Host wall clock of VCD time 0, ms since the epoch. */
  originMs: number;
  changes: VcdChange[];
  endNs: number;
  /** Per guest boot seen, in order: the offset guest edges got (ns to add to `guest_ns`, from `originMs`). */
  guestOffsetsNs: number[];
}

const NS_PER_MS = 1_000_000;

/**
 * Places `edges` (in the order they arrived) between `startMs` and `endMs`
 * (host wall clock). Time 0 is `startMs`, or an earlier edge when the
 * bridge's clock is behind ours (a bridge on another machine). Each line's
 * edges keep their arrival order: one placed before its predecessor on the
 * same line (possible only within the offset's error) is moved up to it.
 */
export function toTimeline(edges: readonly TimedEdge[], startMs: number, endMs: number): Timeline {
  const hostNs = (ms: number): number => (ms - startMs) * NS_PER_MS;

  // A guest clock that goes back means the guest booted again: a new offset from there on.
  const boot: number[] = [];
  const offsets: number[] = [];
  let lastGuestNs = -1;
  for (const [i, edge] of edges.entries()) {
    if (edge.guestNs === undefined) continue;
    if (edge.guestNs < lastGuestNs || offsets.length === 0) offsets.push(Infinity);
    lastGuestNs = edge.guestNs;
    const b = offsets.length - 1;
    boot[i] = b;
    offsets[b] = Math.min(offsets[b] ?? Infinity, hostNs(edge.hostMs) - edge.guestNs);
  }

  const lastOnLine = new Map<number, number>();
  const placed = edges.map((edge, i) => {
    const b = boot[i];
    const raw = edge.guestNs === undefined || b === undefined ? hostNs(edge.hostMs) : edge.guestNs + (offsets[b] ?? 0);
    const timeNs = Math.max(raw, lastOnLine.get(edge.signal) ?? -Infinity);
    lastOnLine.set(edge.signal, timeNs);
    return { timeNs, signal: edge.signal, level: edge.level };
  });

  // A loop, not Math.min(...): a long capture has more edges than a call has room for arguments.
  let shift = 0;
  for (const c of placed) shift = Math.min(shift, c.timeNs);
  const changes = placed.map((c) => ({ ...c, timeNs: Math.round(c.timeNs - shift) }));
  // Array.prototype.sort is stable: equal times keep their arrival order.
  changes.sort((a, b) => a.timeNs - b.timeNs);
  const last = changes[changes.length - 1]?.timeNs ?? 0;
  return {
    originMs: startMs + shift / NS_PER_MS,
    changes,
    endNs: Math.max(Math.round(hostNs(endMs) - shift), last),
    guestOffsetsNs: offsets.map((o) => Math.round(o - shift)),
  };
}
