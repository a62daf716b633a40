/**
 * Everything the collector records (collect.ts, record.ts) and the
 * exporter reads at scrape time (metrics.ts): running totals, levels and
 * latencies, by metric key (table.ts), with a chip's slots resolved once
 * when the chip is followed (a line's undeclared series at its first
 * event).
 */
import { Counters, LatencyTable, SlotTable } from './slots.ts';

export class Recorded {
  /** Running totals (the `health` request's `counters`, and tests). */
  readonly counters = new Counters();
  /** Levels: gauges read at scrape time. */
  readonly gauges = new SlotTable();
  readonly latencies = new LatencyTable();
}
