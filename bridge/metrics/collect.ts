/**
 * The one place metrics are taken: it listens to the events of each part
 * (a chip's monitor and line layer, the MQTT link, the embedded broker,
 * the bridge's extensions) and records them as running totals (for
 * `bridge/request/health` and tests) and, when the exporter runs, as
 * Prometheus metrics. No part calls a metric: to add one, define it in
 * metrics.ts and record it from an event here.
 */
import type { EventEmitter } from 'node:events';
import type { EmbeddedBroker } from '../../broker/embedded.ts';
import type { Chip } from '../chip/chip.ts';
import type { MqttLink } from '../mqtt/link.ts';
import type { BridgeMetrics, RejectReason, RequestStatus } from './metrics.ts';

/** What the extensions report (on ExtensionContext.signals). */
export interface ExtensionSignals {
  /** A line command arrived for a chip. */
  'command-received': [chip: string];
  /** A command was refused before or by its chip ('' when no chip matched). */
  'command-rejected': [chip: string, reason: RejectReason];
  /** A bridge/request was answered (or, retained, ignored). */
  request: [command: string, status: RequestStatus];
}

/** Running totals keyed `name/label/...`. */
export class Counters {
  readonly #totals = new Map<string, number>();

  add(by: number, name: string, ...labels: string[]): void {
    // Several times per command: concatenation, not an array joined (3% of the bridge's time under load).
    let key = name;
    for (const label of labels) key += `/${label}`;
    this.#totals.set(key, (this.#totals.get(key) ?? 0) + by);
  }

  /**
   * A running total: `total('commandRejected')`, or narrowed by the leading
   * label values, e.g. `total('commandRejected', 'board', 'bad_payload')`.
   */
  total(name: string, ...labels: string[]): number {
    const prefix = [name, ...labels].join('/');
    let sum = 0;
    for (const [key, value] of this.#totals) if (key === prefix || key.startsWith(`${prefix}/`)) sum += value;
    return sum;
  }

  /** Every total, keyed `name/label/...`. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#totals);
  }
}

const seconds = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e9;

export class MetricsCollector {
  readonly counters = new Counters();
  readonly #metrics: BridgeMetrics | undefined;

  /** `metrics`: the Prometheus exporter's, when it runs; the totals are kept either way. */
  constructor(metrics?: BridgeMetrics) {
    this.#metrics = metrics;
  }

  /** Follows a chip; call before chip.start() so its series are declared before its first event. */
  chip(chip: Chip): void {
    const name = chip.config.name;
    const m = this.#metrics;
    const c = this.counters;
    const monitor = chip.monitor;
    m?.declareChip(name, chip.config.lines.filter((l) => l.configured).map((l) => l.name));
    /** When the first doorbell since the last publication rang, and whether the line layer published since the last scan. */
    let rangAt: bigint | undefined;
    let published = false;
    monitor.on('doorbell', (at) => {
      c.add(1, 'doorbellReceived', name);
      m?.doorbellReceived(name);
      rangAt ??= at;
    });
    monitor.on('scanned', () => {
      if (published && rangAt !== undefined) {
        m?.doorbellToPublish(name, seconds(rangAt));
        rangAt = undefined;
      }
      published = false;
    });
    monitor.on('doorbell-rung', () => {
      c.add(1, 'doorbellRung', name);
      m?.doorbellRung(name);
    });
    monitor.on('interrupt', () => {
      c.add(1, 'interruptRaised', name);
      m?.interruptRaised(name);
    });
    monitor.on('guest-event', (kind) => {
      c.add(1, 'guestEvent', name, kind);
      m?.guestEvent(name, kind);
    });
    monitor.on('ring-resync', () => {
      c.add(1, 'ringResync', name);
      m?.ringResync(name);
    });
    monitor.on('ring-invalid', (entries) => {
      c.add(entries, 'ringInvalid', name);
      m?.ringInvalid(name, entries);
    });
    monitor.on('ring-dropped', (entries) => {
      c.add(entries, 'ringDropped', name);
      m?.ringDropped(name, entries);
    });
    monitor.on('header-overwritten', (words) => {
      c.add(words, 'headerOverwritten', name);
      m?.headerOverwritten(name, words);
    });
    monitor.on('peers', (count) => m?.guestPeers(name, count));
    monitor.on('availability', (online) => m?.guestBound(name, online));
    monitor.on('queue', (index, depth) => {
      const line = chip.config.lines[index];
      if (line?.configured === true) m?.queueDepth(name, line.name, depth);
    });
    chip.on('command', (result, startedAt) => {
      if (result === 'interrupt') m?.commandToDoorbell(name, seconds(startedAt));
      c.add(1, 'commandApplied', name, result);
      m?.commandApplied(name, result);
    });
    chip.on('overflow', (line) => {
      c.add(1, 'queueOverflow', name, line.name);
      m?.queueOverflow(name, line.name);
    });
    chip.on('edge', (edge) => {
      c.add(1, 'edgePublished', name, edge.source);
      m?.edgePublished(name, edge.source);
      published = true;
    });
    chip.on('received', (received) => {
      c.add(1, 'guestReceived', name, received.line.name);
      m?.guestReceived(name, received.line.name);
    });
    chip.on('state', (line, level, replay) => {
      if (replay) return;
      published = true;
      if (line.configured) m?.lineLevel(name, line.name, level);
    });
  }

  /** Follows the bridge's MQTT link. */
  link(link: MqttLink): void {
    const m = this.#metrics;
    link.on('connect', () => m?.mqttConnected(true));
    link.on('offline', () => m?.mqttConnected(false));
    link.on('traffic', (direction) => {
      this.counters.add(1, 'mqttMessage', direction);
      m?.mqttMessage(direction);
    });
  }

  /** Follows the embedded broker's clients. */
  broker(broker: EmbeddedBroker): void {
    const clients = (): void => {
      this.#metrics?.mqttClients(broker.connectedClients);
    };
    broker.aedes.on('client', clients);
    broker.aedes.on('clientDisconnect', clients);
  }

  /** Follows what the extensions report. */
  extensions(signals: EventEmitter<ExtensionSignals>): void {
    const m = this.#metrics;
    signals.on('command-received', (chip) => {
      this.counters.add(1, 'commandReceived', chip);
      m?.commandReceived(chip);
    });
    signals.on('command-rejected', (chip, reason) => {
      this.counters.add(1, 'commandRejected', chip, reason);
      m?.commandRejected(chip, reason);
    });
    signals.on('request', (command, status) => {
      this.counters.add(1, 'request', command, status);
      m?.request(command, status);
    });
  }
}
