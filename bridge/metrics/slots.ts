/**
 * Where recorded events are kept: one slot per metric and label values,
 * resolved once (when a chip is followed, or on a label's first use) so
 * that recording an event on the command path is one number increment.
 * A profile of a command flood had 9% of the bridge's time in building
 * `name/label` keys and in prom-client hashing label objects per event;
 * the Prometheus exporter now reads these slots at scrape time instead
 * (metrics.ts), and `bridge/request/health` and tests read the totals.
 */
import type { MetricKey } from './table.ts';

/** One series' value. `shown`: exported even while 0 (declared up front, or a gauge that was set). */
export interface Slot {
  value: number;
  shown: boolean;
}

/** A slot and the label values it stands for. */
export interface Series {
  readonly labels: readonly string[];
  readonly slot: Slot;
}

/** Slots by metric name and label values; building the key happens once per series, never per event. */
export class SlotTable {
  readonly #byKey = new Map<string, Series>();
  readonly #byName = new Map<MetricKey, Series[]>();

  /** The slot for `name` and `labels`, created on first use; `shown` marks it as exported at 0. */
  slot(name: MetricKey, labels: readonly string[], shown = false): Slot {
    const key = [name, ...labels].join('/');
    let series = this.#byKey.get(key);
    if (series === undefined) {
      series = { labels, slot: { value: 0, shown } };
      this.#byKey.set(key, series);
      let named = this.#byName.get(name);
      if (named === undefined) this.#byName.set(name, (named = []));
      named.push(series);
    } else if (shown) {
      series.slot.shown = true;
    }
    return series.slot;
  }

  /** Every series of `name`, in the order they were created. */
  series(name: MetricKey): readonly Series[] {
    return this.#byName.get(name) ?? [];
  }

  protected entries(): IterableIterator<[string, Series]> {
    return this.#byKey.entries();
  }
}

/** Running totals, keyed `name/label/...` when read. */
export class Counters extends SlotTable {
  /**
   * A running total: `total('commandRejected')`, or narrowed by the leading
   * label values, e.g. `total('commandRejected', 'board', 'bad_payload')`.
   */
  total(name: MetricKey, ...labels: string[]): number {
    const prefix = [name, ...labels].join('/');
    let sum = 0;
    for (const [key, { slot }] of this.entries()) if (key === prefix || key.startsWith(`${prefix}/`)) sum += slot.value;
    return sum;
  }

  /** Every total that has counted something, keyed `name/label/...` (series declared at 0 are left out). */
  snapshot(): Record<string, number> {
    const totals: Record<string, number> = {};
    for (const [key, { slot }] of this.entries()) if (slot.value !== 0) totals[key] = slot.value;
    return totals;
  }
}

/** Latency buckets from 50 µs to 5 s: TCG guests are slow, the host side is fast. */
export const LATENCY_BUCKETS: readonly number[] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * One histogram series, counted here rather than by prom-client's
 * `observe`, which validates and hashes the label object on every call.
 * Same semantics as prom-client's: `buckets[i]` counts observations `<=`
 * LATENCY_BUCKETS[i] and above the bound before (not cumulative), values
 * above the last bound only count in `count` (the +Inf bucket) and `sum`.
 */
export class Latency {
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    this.sum += seconds;
    this.count += 1;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      if (seconds <= (LATENCY_BUCKETS[i] ?? Infinity)) {
        this.buckets[i] = (this.buckets[i] ?? 0) + 1;
        return;
      }
    }
  }
}

/** Latency series by metric name and label values, created once per chip. */
export class LatencyTable {
  readonly #byName = new Map<MetricKey, { labels: readonly string[]; latency: Latency }[]>();

  create(name: MetricKey, labels: readonly string[]): Latency {
    const latency = new Latency();
    let named = this.#byName.get(name);
    if (named === undefined) this.#byName.set(name, (named = []));
    named.push({ labels, latency });
    return latency;
  }

  series(name: MetricKey): readonly { labels: readonly string[]; latency: Latency }[] {
    return this.#byName.get(name) ?? [];
  }
}
