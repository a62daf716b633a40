import type { Edge } from './edges.ts';

/** What `line.measure()` reports about the edges in its window. */
export interface Measurement {
  edges: number;
  rising: number;
  falling: number;
  /** Mean time from one rising edge to the next (falling to falling with fewer than two rising); null with fewer than two of either. */
  periodMs: number | null;
  /** Mean share of a period the line was ON, over the complete periods seen (rising, falling, rising); null without one. */
  dutyCycle: number | null;
  frequencyHz: number | null;
  /** `guest`: every edge had the guest's `guest_ns`; `host`: the bridge's `ts_ms` was used. */
  clock: 'guest' | 'host';
}

const mean = (values: number[]): number | null => (values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length);

/**
 * Period, duty cycle and frequency from the edges' timestamps: the guest's
 * clock when all of them carry it (unless `clock` says `host`), else the host's.
 */
export function measureEdges(edges: readonly Edge[], clock: 'guest' | 'host' = 'guest'): Measurement {
  const guest = clock === 'guest' && edges.length > 0 && edges.every((e) => e.guestNs !== undefined);
  const at = (e: Edge): number => (guest ? (e.guestNs ?? 0) / 1e6 : e.tsMs);
  const rising = edges.filter((e) => e.edge === 'rising').map(at);
  const falling = edges.filter((e) => e.edge === 'falling').map(at);
  const gaps = (times: number[]): number[] => times.slice(1).map((t, i) => t - (times[i] ?? t));
  const periodMs = mean(gaps(rising.length >= 2 ? rising : falling));
  // Each complete period: a rising edge, the falling edge after it, the next rising edge.
  const high: number[] = [];
  const whole: number[] = [];
  for (let i = 0; i + 1 < rising.length; i++) {
    const start = rising[i] ?? 0;
    const end = rising[i + 1] ?? 0;
    const fall = falling.find((t) => t > start && t < end);
    if (fall === undefined) continue;
    high.push(fall - start);
    whole.push(end - start);
  }
  const highMean = mean(high);
  const wholeMean = mean(whole);
  return {
    edges: edges.length,
    rising: rising.length,
    falling: falling.length,
    periodMs,
    dutyCycle: highMean === null || wholeMean === null || wholeMean === 0 ? null : highMean / wholeMean,
    frequencyHz: periodMs === null || periodMs === 0 ? null : 1000 / periodMs,
    clock: guest ? 'guest' : 'host',
  };
}
