/**
 * Everything the collector records (collect.ts) and the exporter reads at
 * scrape time (metrics.ts): running totals, levels and latencies, with the
 * slots of each chip resolved once when the chip is followed.
 */
import type { CommandResult, GuestEventKind } from './metrics.ts';
import { Counters, LatencyTable, SlotTable, type Latency, type Slot } from './slots.ts';

const RESULTS = ['applied', 'interrupt', 'queued', 'unchanged'] as const satisfies readonly CommandResult[];
const KINDS = ['output', 'direction', 'irq_config', 'input_edge'] as const satisfies readonly GuestEventKind[];
const SOURCES = ['host', 'guest'] as const;

/** The slots of one line (indexed by line number in ChipSlots.lines). */
export interface LineSlots {
  queueOverflow: Slot;
  guestReceived: Slot;
  queueDepth: Slot;
  lineLevel: Slot;
}

/** The slots of one chip, every label with a known set of values resolved up front. */
export interface ChipSlots {
  commandReceived: Slot;
  commandApplied: Record<CommandResult, Slot>;
  doorbellRung: Slot;
  doorbellReceived: Slot;
  interruptRaised: Slot;
  guestEvent: Record<GuestEventKind, Slot>;
  ringResync: Slot;
  ringInvalid: Slot;
  ringDropped: Slot;
  headerOverwritten: Slot;
  edgePublished: Record<(typeof SOURCES)[number], Slot>;
  guestPeers: Slot;
  guestBound: Slot;
  commandToDoorbell: Latency;
  doorbellToPublish: Latency;
  lines: LineSlots[];
}

function byLabel<K extends string>(values: readonly K[], slot: (value: K) => Slot): Record<K, Slot> {
  return Object.fromEntries(values.map((value) => [value, slot(value)])) as Record<K, Slot>;
}

export class Recorded {
  /** Running totals (the `health` request's `counters`, and tests). */
  readonly counters = new Counters();
  /** Levels: gauges read at scrape time. */
  readonly gauges = new SlotTable();
  readonly latencies = new LatencyTable();

  /**
   * Resolves a chip's slots. The Prometheus series of its configured lines
   * and its counters are declared at 0 (a dashboard shows zeros, not gaps);
   * other lines' series appear with their first event, line levels with the
   * first state published after start-up.
   */
  chip(chip: string, lines: readonly { name: string; configured: boolean }[]): ChipSlots {
    const count = (name: string, ...labels: string[]): Slot => this.counters.slot(name, [chip, ...labels], true);
    const level = (name: string, ...labels: string[]): Slot => this.gauges.slot(name, [chip, ...labels], true);
    return {
      commandReceived: count('commandReceived'),
      commandApplied: byLabel(RESULTS, (result) => count('commandApplied', result)),
      doorbellRung: count('doorbellRung'),
      doorbellReceived: count('doorbellReceived'),
      interruptRaised: count('interruptRaised'),
      guestEvent: byLabel(KINDS, (kind) => count('guestEvent', kind)),
      ringResync: count('ringResync'),
      ringInvalid: count('ringInvalid'),
      ringDropped: count('ringDropped'),
      headerOverwritten: count('headerOverwritten'),
      edgePublished: byLabel(SOURCES, (source) => count('edgePublished', source)),
      guestPeers: level('guestPeers'),
      guestBound: level('guestBound'),
      commandToDoorbell: this.latencies.create('commandToDoorbell', [chip]),
      doorbellToPublish: this.latencies.create('doorbellToPublish', [chip]),
      lines: lines.map(({ name, configured }) => ({
        queueOverflow: this.counters.slot('queueOverflow', [chip, name], configured),
        guestReceived: this.counters.slot('guestReceived', [chip, name], configured),
        queueDepth: this.gauges.slot('queueDepth', [chip, name], configured),
        lineLevel: this.gauges.slot('lineLevel', [chip, name]),
      })),
    };
  }
}
