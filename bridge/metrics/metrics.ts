/**
 * Every Prometheus metric the bridge exports, defined once, with one
 * method per thing worth counting so the rest of the bridge never touches
 * prom-client. Names follow Prometheus conventions: `vgpio2mqtt_` prefix,
 * base units, `_total` counters, `_seconds` histograms. Labels are the chip
 * and, where the configuration bounds the set, the line name. Each metric
 * is registered in two registries, one per exposition format, so /metrics
 * can answer Prometheus text or OpenMetrics per request.
 */
// prom-client's index also loads its cluster aggregator, Pushgateway (with
// http, https and zlib) and Summary (with tdigest and bintrees), which the
// bridge never uses: importing the five files it does use keeps them out of
// an idle bridge's memory (about 0.7 MiB of RSS). The package has no
// "exports" map, so these paths are as public as its index; a release that
// moves them fails at start-up, and in every test.
import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Histogram from 'prom-client/lib/histogram.js';
import Registry from 'prom-client/lib/registry.js';
import collectDefaultMetrics from 'prom-client/lib/defaultMetrics.js';
import type { OpenMetricsContentType } from 'prom-client';

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

/** Latency buckets from 50 µs to 5 s: TCG guests are slow, the host side is fast. */
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class BridgeMetrics {
  readonly prometheus = new Registry();
  readonly openMetrics = new Registry<OpenMetricsContentType>();

  readonly #commandsReceived;
  readonly #commandsApplied;
  readonly #commandsRejected;
  readonly #doorbellsRung;
  readonly #doorbellsReceived;
  readonly #edgesDelivered;
  readonly #guestEvents;
  readonly #queueDepth;
  readonly #queueOverflows;
  readonly #ringDropped;
  readonly #ringResyncs;
  readonly #ringInvalid;
  readonly #commandLatency;
  readonly #publishLatency;
  readonly #guestPeers;
  readonly #guestBound;
  readonly #lineLevel;
  readonly #mqttConnected;
  readonly #mqttClients;
  readonly #mqttMessages;
  readonly #headerOverwrites;
  readonly #edgesPublished;
  readonly #guestReceived;
  readonly #requests;

  constructor(version: string) {
    this.openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const registers = [this.prometheus, this.openMetrics];
    // Collected once and registered in both: a second collection would run a
    // second event-loop delay monitor and GC observer for the same figures.
    collectDefaultMetrics({ register: this.prometheus, prefix: METRIC_PREFIX });
    // prom-client names these gauges `_total`, which breaks the convention
    // (promtool rejects them); the totals without `_total` carry the same counts.
    for (const name of MISNAMED_DEFAULT_GAUGES) this.prometheus.removeSingleMetric(METRIC_PREFIX + name);
    for (const { name } of this.prometheus.getMetricsAsArray()) {
      const metric = this.prometheus.getSingleMetric(name);
      if (metric !== undefined) this.openMetrics.registerMetric(metric);
    }
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> =>
      new Counter({ name: METRIC_PREFIX + name, help, labelNames, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> =>
      new Gauge({ name: METRIC_PREFIX + name, help, labelNames, registers });
    const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[]): Histogram<L> =>
      new Histogram({ name: METRIC_PREFIX + name, help, labelNames, buckets: LATENCY_BUCKETS, registers });

    gauge('build_info', 'Always 1; the version label says which bridge is running.', ['version']).set({ version }, 1);
    this.#commandsReceived = counter('commands_received_total', 'Line commands received over MQTT.', ['chip']);
    this.#commandsApplied = counter('commands_applied_total', 'Line commands accepted, by what they did to the line.', ['chip', 'result']);
    this.#commandsRejected = counter('commands_rejected_total', 'Line commands refused without changing anything, by reason.', ['chip', 'reason']);
    this.#doorbellsRung = counter('doorbells_rung_total', 'Doorbells the bridge rang on guests.', ['chip']);
    this.#doorbellsReceived = counter('doorbells_received_total', 'Doorbells guests rang on the bridge (coalesced wake-ups).', ['chip']);
    this.#edgesDelivered = counter('guest_interrupts_raised_total', 'Input changes raised as interrupts to the guest (irq_raise bit flipped).', ['chip']);
    this.#guestEvents = counter('guest_events_total', 'Events the guest reported through its event ring, by kind.', ['chip', 'kind']);
    this.#queueDepth = gauge('line_queue_depth', 'Input changes waiting behind a pending interrupt.', ['chip', 'line']);
    this.#queueOverflows = counter('line_queue_overflows_total', 'Input changes refused because the line queue was full.', ['chip', 'line']);
    this.#ringDropped = counter('event_ring_dropped_total', 'Events the guest dropped because the event ring was full.', ['chip']);
    this.#ringResyncs = counter('event_ring_resyncs_total', 'Times the bridge rebuilt line state from the bank registers.', ['chip']);
    this.#ringInvalid = counter('event_ring_invalid_total', 'Event-ring entries skipped for a bad line number or kind.', ['chip']);
    this.#commandLatency = histogram('command_to_doorbell_seconds', 'From a command arriving to the guest being rung.', ['chip']);
    this.#publishLatency = histogram('doorbell_to_publish_seconds', 'From a guest doorbell to the resulting state being published.', ['chip']);
    this.#guestPeers = gauge('guest_peers_connected', 'Guest peers (QEMU) connected to the chip.', ['chip']);
    this.#guestBound = gauge('guest_driver_bound', '1 while a guest driver is bound to the chip.', ['chip']);
    this.#lineLevel = gauge('line_level', 'Current level of each configured line (0 or 1).', ['chip', 'line']);
    this.#mqttConnected = gauge('mqtt_connected', '1 while the bridge is connected to its MQTT broker.', []);
    this.#mqttClients = gauge('mqtt_clients_connected', 'Clients connected to the embedded broker.', []);
    this.#mqttMessages = counter('mqtt_messages_total', 'MQTT messages the bridge received (in) and published (out).', ['direction']);
    this.#headerOverwrites = counter('header_overwrites_total', 'Host-owned header words a guest overwrote (the bridge restored them).', ['chip']);
    this.#edgesPublished = counter('edges_published_total', 'Edge events published over MQTT, by who drove the line.', ['chip', 'source']);
    this.#guestReceived = counter('guest_received_edges_total', 'Input edges the guest confirmed its interrupt handler took (EV_INPUT_EDGE), published on .../received.', ['chip', 'line']);
    this.#requests = counter('requests_total', 'bridge/request commands answered, by command and status.', ['command', 'status']);
  }

  /** Declares a chip's series up front, so dashboards see zeros instead of nothing before the first event. */
  declareChip(chip: string, lines: readonly string[]): void {
    this.#commandsReceived.inc({ chip }, 0);
    for (const result of ['applied', 'interrupt', 'queued', 'unchanged'] as const) this.#commandsApplied.inc({ chip, result }, 0);
    this.#doorbellsRung.inc({ chip }, 0);
    this.#doorbellsReceived.inc({ chip }, 0);
    this.#edgesDelivered.inc({ chip }, 0);
    for (const kind of ['output', 'direction', 'irq_config', 'input_edge'] as const) this.#guestEvents.inc({ chip, kind }, 0);
    this.#ringDropped.inc({ chip }, 0);
    this.#ringResyncs.inc({ chip }, 0);
    this.#ringInvalid.inc({ chip }, 0);
    this.#headerOverwrites.inc({ chip }, 0);
    for (const source of ['host', 'guest'] as const) this.#edgesPublished.inc({ chip, source }, 0);
    this.#guestPeers.set({ chip }, 0);
    this.#guestBound.set({ chip }, 0);
    for (const line of lines) {
      this.#queueDepth.set({ chip, line }, 0);
      this.#queueOverflows.inc({ chip, line }, 0);
      this.#guestReceived.inc({ chip, line }, 0);
    }
  }

  commandReceived(chip: string): void {
    this.#commandsReceived.inc({ chip });
  }

  commandApplied(chip: string, result: CommandResult): void {
    this.#commandsApplied.inc({ chip, result });
  }

  commandRejected(chip: string, reason: RejectReason): void {
    this.#commandsRejected.inc({ chip, reason });
  }

  doorbellRung(chip: string): void {
    this.#doorbellsRung.inc({ chip });
  }

  doorbellReceived(chip: string): void {
    this.#doorbellsReceived.inc({ chip });
  }

  interruptRaised(chip: string): void {
    this.#edgesDelivered.inc({ chip });
  }

  guestEvent(chip: string, kind: GuestEventKind): void {
    this.#guestEvents.inc({ chip, kind });
  }

  queueDepth(chip: string, line: string, depth: number): void {
    this.#queueDepth.set({ chip, line }, depth);
  }

  queueOverflow(chip: string, line: string): void {
    this.#queueOverflows.inc({ chip, line });
  }

  ringDropped(chip: string, count: number): void {
    this.#ringDropped.inc({ chip }, count);
  }

  ringResync(chip: string): void {
    this.#ringResyncs.inc({ chip });
  }

  ringInvalid(chip: string, count: number): void {
    this.#ringInvalid.inc({ chip }, count);
  }

  commandToDoorbell(chip: string, seconds: number): void {
    this.#commandLatency.observe({ chip }, seconds);
  }

  doorbellToPublish(chip: string, seconds: number): void {
    this.#publishLatency.observe({ chip }, seconds);
  }

  guestPeers(chip: string, count: number): void {
    this.#guestPeers.set({ chip }, count);
  }

  guestBound(chip: string, bound: boolean): void {
    this.#guestBound.set({ chip }, bound ? 1 : 0);
  }

  lineLevel(chip: string, line: string, level: 0 | 1): void {
    this.#lineLevel.set({ chip, line }, level);
  }

  mqttConnected(connected: boolean): void {
    this.#mqttConnected.set(connected ? 1 : 0);
  }

  mqttClients(count: number): void {
    this.#mqttClients.set(count);
  }

  mqttMessage(direction: 'in' | 'out'): void {
    this.#mqttMessages.inc({ direction });
  }

  headerOverwritten(chip: string, words: number): void {
    this.#headerOverwrites.inc({ chip }, words);
  }

  edgePublished(chip: string, source: 'host' | 'guest'): void {
    this.#edgesPublished.inc({ chip, source });
  }

  guestReceived(chip: string, line: string): void {
    this.#guestReceived.inc({ chip, line });
  }

  request(command: string, status: RequestStatus): void {
    this.#requests.inc({ command, status });
  }
}
