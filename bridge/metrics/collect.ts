/**
 * The one place metrics are taken: it listens to the events of each part
 * (a chip's monitor and line layer, the MQTT link, the embedded broker,
 * the bridge's extensions) and records them in slots (recorded.ts) that
 * the running totals (for `bridge/request/health` and tests) and, when the
 * exporter runs, the Prometheus metrics read. No part calls a metric: to
 * add one, define it in metrics.ts and record it from an event here.
 */
import type { EventEmitter } from 'node:events';
import type { EmbeddedBroker, RefusalKind } from '../../broker/embedded.ts';
import type { Chip } from '../chip/chip.ts';
import type { MqttLink } from '../mqtt/link.ts';
import type { Wires } from '../signals/wires.ts';
import type { RejectReason, RequestStatus } from './metrics.ts';
import { Recorded } from './recorded.ts';
import type { Slot } from './slots.ts';

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

const seconds = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e9;

export class MetricsCollector {
  /** What was recorded; BridgeMetrics reads it at scrape time. */
  readonly recorded = new Recorded();
  readonly counters = this.recorded.counters;

  /** Follows a chip; call before chip.start() so its series are declared before its first event. */
  chip(chip: Chip): void {
    const s = this.recorded.chip(chip.config.name, chip.config.lines);
    const monitor = chip.monitor;
    /** When the first doorbell since the last publication rang, and whether the line layer published since the last scan. */
    let rangAt: bigint | undefined;
    let published = false;
    monitor.on('doorbell-received', (at) => {
      s.doorbellReceived.value += 1;
      rangAt ??= at;
    });
    monitor.on('scanned', () => {
      if (published && rangAt !== undefined) {
        s.doorbellToPublish.observe(seconds(rangAt));
        rangAt = undefined;
      }
      published = false;
    });
    monitor.on('doorbell-sent', () => {
      s.doorbellRung.value += 1;
    });
    monitor.on('interrupt', () => {
      s.interruptRaised.value += 1;
    });
    monitor.on('guest-event', (kind) => {
      s.guestEvent[kind].value += 1;
    });
    monitor.on('ring-resync', () => {
      s.ringResync.value += 1;
    });
    monitor.on('ring-invalid', (entries) => {
      s.ringInvalid.value += entries;
    });
    monitor.on('ring-dropped', (entries) => {
      s.ringDropped.value += entries;
    });
    monitor.on('header-overwritten', (words) => {
      s.headerOverwritten.value += words;
    });
    monitor.on('peers', (count) => {
      s.guestPeers.value = count;
    });
    monitor.on('availability', (online) => {
      s.guestBound.value = online ? 1 : 0;
    });
    monitor.on('queue', (index, depth) => {
      if (chip.config.lines[index]?.configured !== true) return;
      const line = s.lines[index];
      if (line !== undefined) line.queueDepth.value = depth;
    });
    chip.on('command', (result, startedAt) => {
      if (result === 'interrupt') s.commandToDoorbell.observe(seconds(startedAt));
      s.commandApplied[result].value += 1;
    });
    chip.on('overflow', (line) => {
      const slots = s.lines[line.line];
      if (slots !== undefined) slots.queueOverflow.value += 1;
    });
    chip.on('edge', (edge) => {
      s.edgePublished[edge.source].value += 1;
      published = true;
    });
    chip.on('received', (received) => {
      const slots = s.lines[received.line.line];
      if (slots !== undefined) slots.guestReceived.value += 1;
    });
    chip.on('state', (line, level, replay) => {
      if (replay) return;
      published = true;
      const slot = line.configured ? s.lines[line.line]?.lineLevel : undefined;
      if (slot === undefined) return;
      slot.value = level;
      slot.shown = true;
    });
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
