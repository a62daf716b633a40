/** Latency samples: percentiles, ratios and how they are printed in RESULTS.md. */

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
}

/** Nearest-rank percentile of `sorted` (ascending), `p` in 0..100. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

/** p50/p90/p99 of latencies in milliseconds. */
export function summarize(samplesMs: number[]): Summary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99) };
}

/** Takes `count` latency samples (ms) of one figure. */
export type Sampler = (count: number) => Promise<number[]>;

/**
 * `count` samples of each figure, taken in `rounds` rounds of count/rounds
 * samples of every figure in turn: this machine (a VM) has slow spells of
 * seconds, and figures measured one after the other would put a spell on
 * one figure and not on the baseline it is divided by.
 */
export async function inRounds<K extends string>(samplers: Record<K, Sampler>, count: number, rounds: number): Promise<Record<K, Summary>> {
  const names = Object.keys(samplers) as K[];
  const samples = new Map<K, number[]>(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    // The last round takes what the division left over.
    const per = round === rounds - 1 ? count - Math.floor(count / rounds) * (rounds - 1) : Math.floor(count / rounds);
    for (const name of names) samples.get(name)?.push(...(await samplers[name](per)));
  }
  return Object.fromEntries(names.map((name) => [name, summarize(samples.get(name) ?? [])])) as Record<K, Summary>;
}

/** Milliseconds since `start` (a process.hrtime.bigint() value). */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function ms(value: number): string {
  return value < 10 ? value.toFixed(3) : value.toFixed(1);
}

export function ratio(value: number, baseline: number): string {
  return baseline > 0 ? `${(value / baseline).toFixed(2)}×` : 'n/a';
}
