/**
 * Every metric the bridge exports, one entry each: its Prometheus name
 * (after the `vgpio2mqtt_` prefix), help and labels, and for a chip's
 * metric how it is recorded from the chip's metric stream (record.ts,
 * events.ts). The key is the metric's name in the recorded slots and the
 * running totals (`bridge/request/health`), typed everywhere. Adding a
 * chip metric is an entry here plus the emit of its event. No prom-client
 * here: the collector reads this table whether or not the exporter runs.
 */
import type { CommandResult, GuestEventKind } from './metrics.ts';
import { count, countBy, countPerLine, declared, doorbellToPublish, latency, level, levelPerLine, type ChipRecorder } from './record.ts';

export interface MetricDef {
  kind: 'counter' | 'gauge' | 'histogram';
  /** Without the prefix. */
  name: string;
  help: string;
  labels: readonly string[];
  /** How a chip's series are declared and recorded; none for metrics that are not a chip's. */
  chip?: ChipRecorder;
}

const RESULTS = ['applied', 'interrupt', 'queued', 'unchanged'] as const satisfies readonly CommandResult[];
const KINDS = ['output', 'direction', 'irq_config', 'input_edge'] as const satisfies readonly GuestEventKind[];
const SOURCES = ['host', 'guest'] as const;

const def = (kind: MetricDef['kind'], name: string, help: string, labels: readonly string[], chip?: ChipRecorder): MetricDef => ({ kind, name, help, labels, ...(chip === undefined ? {} : { chip }) });

/** In the order they are exported. */
export const METRICS = {
  commandReceived: def('counter', 'commands_received_total', 'Line commands received over MQTT.', ['chip'], declared),
  commandApplied: def('counter', 'commands_applied_total', 'Line commands accepted, by what they did to the line.', ['chip', 'result'], countBy('command', RESULTS, (result) => result)),
  commandRejected: def('counter', 'commands_rejected_total', 'Line commands refused without changing anything, by reason.', ['chip', 'reason']),
  doorbellRung: def('counter', 'doorbells_rung_total', 'Doorbells the bridge rang on guests.', ['chip'], count('doorbell-sent')),
  doorbellReceived: def('counter', 'doorbells_received_total', 'Doorbells guests rang on the bridge (coalesced wake-ups).', ['chip'], count('doorbell-received')),
  interruptRaised: def('counter', 'guest_interrupts_raised_total', 'Input changes raised as interrupts to the guest (irq_raise bit flipped).', ['chip'], count('interrupt')),
  guestEvent: def('counter', 'guest_events_total', 'Events the guest reported through its event ring, by kind.', ['chip', 'kind'], countBy('guest-event', KINDS, (kind) => kind)),
  queueDepth: def('gauge', 'line_queue_depth', 'Input changes waiting behind a pending interrupt.', ['chip', 'line'], levelPerLine('queue', true)),
  queueOverflow: def('counter', 'line_queue_overflows_total', 'Input changes refused because the line queue was full.', ['chip', 'line'], countPerLine('overflow')),
  ringDropped: def('counter', 'event_ring_dropped_total', 'Events the guest dropped because the event ring was full.', ['chip'], count('ring-dropped', (entries) => entries)),
  ringResync: def('counter', 'event_ring_resyncs_total', 'Times the bridge rebuilt line state from the bank registers.', ['chip'], count('ring-resync')),
  ringInvalid: def('counter', 'event_ring_invalid_total', 'Event-ring entries skipped for a bad line number or kind.', ['chip'], count('ring-invalid', (entries) => entries)),
  commandToDoorbell: def('histogram', 'command_to_doorbell_seconds', 'From a command arriving to the guest being rung.', ['chip'], latency('command', (result, startedAt) => (result === 'interrupt' ? startedAt : undefined))),
  doorbellToPublish: def('histogram', 'doorbell_to_publish_seconds', 'From a guest doorbell to the resulting state being published.', ['chip'], doorbellToPublish),
  guestPeers: def('gauge', 'guest_peers_connected', 'Guest peers (QEMU) connected to the chip.', ['chip'], level('peers', (peers) => peers)),
  guestBound: def('gauge', 'guest_driver_bound', '1 while a guest driver is bound to the chip.', ['chip'], level('guest-bound', (online) => (online ? 1 : 0))),
  lineLevel: def('gauge', 'line_level', 'Current level of each configured line (0 or 1).', ['chip', 'line'], levelPerLine('state', false)),
  mqttConnected: def('gauge', 'mqtt_connected', '1 while the bridge is connected to its MQTT broker.', []),
  mqttClients: def('gauge', 'mqtt_clients_connected', 'Clients connected to the embedded broker.', []),
  clientRefused: def('counter', 'mqtt_clients_refused_total', 'Network clients the embedded broker or the web view refused or dropped, by reason (docs/metrics.md).', ['reason']),
  mqttMessage: def('counter', 'mqtt_messages_total', 'MQTT messages the bridge received (in) and published (out).', ['direction']),
  headerOverwritten: def('counter', 'header_overwrites_total', 'Host-owned header words a guest overwrote (the bridge restored them).', ['chip'], count('header-overwritten', (words) => words)),
  edgePublished: def('counter', 'edges_published_total', 'Edge events published over MQTT, by who drove the line.', ['chip', 'source'], countBy('edge', SOURCES, (source) => source)),
  guestReceived: def('counter', 'guest_received_edges_total', 'Input edges the guest confirmed its interrupt handler took (EV_INPUT_EDGE), published on .../received.', ['chip', 'line'], countPerLine('received')),
  wireContention: def('counter', 'wire_contention_total', 'Times an input line several wires drive was driven both ways (it reads low), by input line.', ['net']),
  request: def('counter', 'requests_total', 'bridge/request commands answered, by command and status.', ['command', 'status']),
} satisfies Record<string, MetricDef>;

export type MetricKey = keyof typeof METRICS;
