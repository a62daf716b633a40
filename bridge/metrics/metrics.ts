/**
 * The Prometheus exporter of every metric in table.ts. The values are
 * read at scrape time, in each metric's collect() hook, from what the
 * collector recorded (recorded.ts): recording an event is then one number
 * increment, with no prom-client call on the command path. Names follow Prometheus conventions: `vgpio2mqtt_` prefix,
 * base units, `_total` counters, `_seconds` histograms. Labels are the chip
 * and, where the configuration bounds the set, the line name. Each metric
 * is registered in two registries, one per exposition format, so /metrics
 * can answer Prometheus text or OpenMetrics per request.
 */
// prom-client's index also loads its cluster aggregator, Pushgateway (with
// http, https and zlib) and Summary (with tdigest and bintrees), which the
// bridge never uses: importing the files it does use keeps them out of an
// idle bridge's memory (about 0.7 MiB of RSS; process-metrics.ts says why it
// does not use collectDefaultMetrics() either). The package has no
// "exports" map, so these paths are as public as its index; a release that
// moves them fails at start-up, and in every test.
import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Histogram from 'prom-client/lib/histogram.js';
import Registry from 'prom-client/lib/registry.js';
import type { LabelValues, OpenMetricsContentType } from 'prom-client';
import { collectProcessMetrics } from './process-metrics.ts';
import type { Recorded } from './recorded.ts';
import { LATENCY_BUCKETS, type Latency } from './slots.ts';
import { METRICS, type MetricDef, type MetricKey } from './table.ts';

export const METRIC_PREFIX = 'vgpio2mqtt_';

/** Why a command was refused; the `reason` label's values. */
export type RejectReason = 'bad_payload' | 'unknown_line' | 'not_host_driven' | 'queue_overflow' | 'chip_offline' | 'bad_topic' | 'retained';
/** How a bridge request was answered; `ignored`: a retained request, not answered. */
export type RequestStatus = 'ok' | 'error' | 'ignored';
/** What happened to an accepted command; the `result` label's values. */
export type CommandResult = 'applied' | 'interrupt' | 'queued' | 'unchanged';
/** Guest-reported event kinds; the `kind` label's values. */
export type GuestEventKind = 'output' | 'direction' | 'irq_config' | 'input_edge';

const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** `{ chip: 'board', line: 'led' }` from the label names and a series' values. */
function labelsOf<L extends string>(names: readonly L[], values: readonly string[]): LabelValues<L> {
  return Object.fromEntries(names.map((name, i) => [name, values[i]])) as LabelValues<L>;
}

/** prom-client's state of one histogram series (lib/histogram.js). */
interface HistogramSeries {
  labels: object;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/**
 * Hands a series counted by Latency over to prom-client. prom-client has no
 * public way to set a histogram's counts (only `observe`, which hashes the
 * labels on every call: the cost this avoids), so this fills the series
 * `zero()` created; a release that keeps them elsewhere throws here, on the
 * first scrape, and in the unit test of the histograms.
 */
function handOver<L extends string>(histogram: Histogram<L>, labels: LabelValues<L>, latency: Latency): void {
  histogram.zero(labels);
  const state = (histogram as unknown as { hashMap?: Record<string, HistogramSeries> }).hashMap ?? {};
  const series = Object.values(state).find((s) => s.labels === labels);
  if (series === undefined) throw new Error('prom-client keeps histogram series where this bridge does not expect them');
  LATENCY_BUCKETS.forEach((bound, i) => {
    series.bucketValues[bound] = latency.buckets[i] ?? 0;
  });
  series.sum = latency.sum;
  series.count = latency.count;
}

export class BridgeMetrics {
  readonly prometheus = new Registry();
  readonly openMetrics = new Registry<OpenMetricsContentType>();

  /** `recorded`: the collector's (MetricsCollector.recorded), read at every scrape. */
  constructor(version: string, recorded: Recorded) {
    this.openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const registers = [this.prometheus, this.openMetrics];
    // Collected once and registered in both: a second collection would run a
    // second event-loop delay monitor and GC observer for the same figures.
    collectProcessMetrics(this.prometheus, METRIC_PREFIX);
    // prom-client names these gauges `_total`, which breaks the convention
    // (promtool rejects them); the totals without `_total` carry the same counts.
    for (const name of MISNAMED_DEFAULT_GAUGES) this.prometheus.removeSingleMetric(METRIC_PREFIX + name);
    for (const { name } of this.prometheus.getMetricsAsArray()) {
      const metric = this.prometheus.getSingleMetric(name);
      if (metric !== undefined) this.openMetrics.registerMetric(metric);
    }
    // Each series is exported once shown (declared at 0, or a level that was set) or counted.
    const counter = (key: MetricKey, { name, help, labels: labelNames }: MetricDef): void => {
      new Counter({
        name: METRIC_PREFIX + name,
        help,
        labelNames,
        registers,
        collect(this: Counter) {
          this.reset();
          for (const { labels, slot } of recorded.counters.series(key)) if (slot.shown || slot.value !== 0) this.inc(labelsOf(labelNames, labels), slot.value);
        },
      });
    };
    const gauge = (key: MetricKey, { name, help, labels: labelNames }: MetricDef): void => {
      new Gauge({
        name: METRIC_PREFIX + name,
        help,
        labelNames,
        registers,
        collect(this: Gauge) {
          this.reset();
          for (const { labels, slot } of recorded.gauges.series(key)) if (slot.shown) this.set(labelsOf(labelNames, labels), slot.value);
        },
      });
    };
    const histogram = (key: MetricKey, { name, help, labels: labelNames }: MetricDef): void => {
      new Histogram({
        name: METRIC_PREFIX + name,
        help,
        labelNames,
        buckets: [...LATENCY_BUCKETS],
        registers,
        collect(this: Histogram) {
          this.reset();
          for (const { labels, latency } of recorded.latencies.series(key)) if (latency.count > 0) handOver(this, labelsOf(labelNames, labels), latency);
        },
      });
    };

    new Gauge({ name: `${METRIC_PREFIX}build_info`, help: 'Always 1; the version label says which bridge is running.', labelNames: ['version'], registers }).set({ version }, 1);
    const register = { counter, gauge, histogram };
    for (const [key, metric] of Object.entries(METRICS) as [MetricKey, MetricDef][]) register[metric.kind](key, metric);
  }
}
