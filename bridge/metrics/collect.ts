/**
 * The one place metrics are taken: it follows each chip's metric stream
 * (Chip.metrics, events.ts) as table.ts says, and the events of the MQTT
 * link, the embedded broker and the bridge's extensions, and records them
 * in slots (recorded.ts) that the running totals (for
 * `bridge/request/health` and tests) and, when the exporter runs, the
 * Prometheus metrics read. No part calls a metric.
 */
import type { EventEmitter } from 'node:events';
import type { EmbeddedBroker, RefusalKind } from '../../broker/embedded.ts';
import type { Chip } from '../chip/chip.ts';
import type { MqttLink } from '../mqtt/link.ts';
import type { Wires } from '../signals/wires.ts';
import type { RejectReason, RequestStatus } from './metrics.ts';
import { Recorded } from './recorded.ts';
import type { Slot } from './slots.ts';
import { METRICS, type MetricDef, type MetricKey } from './table.ts';

export { Counters } from './slots.ts';

/** What the extensions report (on ExtensionContext.signals). */
export interface ExtensionSignals {
  /** A line command arrived for a chip. */
  'command-received': [chip: string];
  /** A command was refused before or by its chip ('' when no chip matched). */
  'command-rejected': [chip: string, reason: RejectReason];
  /** A bridge/request was answered (or, retained, ignored). */
  request: [command: string, status: RequestStatus];
}

export class MetricsCollector {
  /** What was recorded; BridgeMetrics reads it at scrape time. */
  readonly recorded = new Recorded();
  readonly counters = this.recorded.counters;

  /**
   * Follows a chip; call before chip.start() so its series are declared
   * before its first event. The series of its configured lines and its
   * counters are declared at 0 (a dashboard shows zeros, not gaps); other
   * lines' series appear with their first event, line levels with the
   * first state published after start-up.
   */
  chip(chip: Chip): void {
    const follow = { chip: chip.config.name, lines: chip.config.lines, stream: chip.metrics, recorded: this.recorded };
    for (const [key, metric] of Object.entries(METRICS) as [MetricKey, MetricDef][]) metric.chip?.({ key, ...follow });
  }

  /** Follows the wires between chips. */
  wires(wires: Wires): void {
    wires.on('contention', (net) => {
      this.counters.slot('wireContention', [net]).value += 1;
    });
  }

  /** Follows the bridge's MQTT link. */
  link(link: MqttLink): void {
    const connected = this.recorded.gauges.slot('mqttConnected', [], true);
    const messages = { in: this.counters.slot('mqttMessage', ['in']), out: this.counters.slot('mqttMessage', ['out']) };
    link.on('connect', () => {
      connected.value = 1;
    });
    link.on('offline', () => {
      connected.value = 0;
    });
    link.on('traffic', (direction) => {
      messages[direction].value += 1;
    });
  }

  /** Follows the embedded broker's clients. */
  broker(broker: EmbeddedBroker): void {
    const clients = this.recorded.gauges.slot('mqttClients', [], true);
    const count = (): void => {
      clients.value = broker.connectedClients;
    };
    broker.aedes.on('client', count);
    broker.aedes.on('clientDisconnect', count);
  }

  /** Counts a network client refused or dropped by the embedded broker or the web view. */
  refused(kind: RefusalKind): void {
    this.counters.slot('clientRefused', [kind]).value += 1;
  }

  /** Follows what the extensions report. */
  extensions(signals: EventEmitter<ExtensionSignals>): void {
    /** Slots by chip name: one lookup by the name the signal carries, no key built per command. */
    const received = new Map<string, Slot>();
    signals.on('command-received', (chip) => {
      let slot = received.get(chip);
      if (slot === undefined) received.set(chip, (slot = this.counters.slot('commandReceived', [chip])));
      slot.value += 1;
    });
    // Refusals and requests are off the command path: their slots are looked up per event.
    signals.on('command-rejected', (chip, reason) => {
      this.counters.slot('commandRejected', [chip, reason]).value += 1;
    });
    signals.on('request', (command, status) => {
      this.counters.slot('request', [command, status]).value += 1;
    });
  }
}
