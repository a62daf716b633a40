/**
 * How a metric of a chip is recorded from its metric stream (events.ts):
 * each helper declares the metric's series when a chip is followed (its
 * slots resolved once, so recording an event is one number increment) and
 * returns the listener. A metric's entry in table.ts names one of these.
 */
import type { ChipMetricEvents, ChipMetrics } from './events.ts';
import type { Recorded } from './recorded.ts';
import type { Slot } from './slots.ts';
import type { MetricKey } from './table.ts';

export type ChipEvent = keyof ChipMetricEvents;
type Args<E extends ChipEvent> = ChipMetricEvents[E];

/** What a recorder gets when a chip is followed. */
export interface ChipFollow {
  key: MetricKey;
  chip: string;
  lines: readonly { name: string; configured: boolean }[];
  stream: ChipMetrics;
  recorded: Recorded;
}

export type ChipRecorder = (follow: ChipFollow) => void;

function on<E extends ChipEvent>(stream: ChipMetrics, event: E, listener: (...args: Args<E>) => void): void {
  // EventEmitter's typings do not narrow a generic event name's listener.
  (stream.on as (event: E, listener: (...args: Args<E>) => void) => void).call(stream, event, listener);
}

/** A counter of the chip, declared at 0: +1 per `event`, or + what `by` reads off it. */
export function count<E extends ChipEvent>(event: E, by?: (...args: Args<E>) => number): ChipRecorder {
  return ({ key, chip, stream, recorded }) => {
    const slot = recorded.counters.slot(key, [chip], true);
    on(stream, event, (...args) => {
      slot.value += by === undefined ? 1 : by(...args);
    });
  };
}

/** A counter of the chip by one more label whose values are known, each declared at 0. */
export function countBy<E extends ChipEvent, V extends string>(event: E, values: readonly V[], label: (...args: Args<E>) => V): ChipRecorder {
  return ({ key, chip, stream, recorded }) => {
    const slots = new Map<string, Slot>(values.map((value) => [value, recorded.counters.slot(key, [chip, value], true)]));
    on(stream, event, (...args) => {
      const slot = slots.get(label(...args));
      if (slot !== undefined) slot.value += 1;
    });
  };
}

/** A counter of the chip recorded elsewhere (an extension's signals, see collect.ts), declared at 0 here. */
export const declared: ChipRecorder = ({ key, chip, recorded }) => {
  recorded.counters.slot(key, [chip], true);
};

/** A gauge of the chip, declared at 0, set to what `value` reads off `event`. */
export function level<E extends ChipEvent>(event: E, value: (...args: Args<E>) => number): ChipRecorder {
  return ({ key, chip, stream, recorded }) => {
    const slot = recorded.gauges.slot(key, [chip], true);
    on(stream, event, (...args) => {
      slot.value = value(...args);
    });
  };
}

/** Events about one line: the line number first. */
type LineEvent = { [E in ChipEvent]: Args<E> extends [number, ...number[]] ? E : never }[ChipEvent];

/**
 * A series per line of the chip (`chip` and `line` labels), `update`d with
 * the second argument of each `event` about it (the line number first).
 * `declare`: configured lines' series are declared at 0 (else a series
 * shows once counted, or once a gauge's update shows it); `configuredOnly`:
 * other lines' events are left out.
 */
function perLine(event: LineEvent, gauge: boolean, declare: boolean, configuredOnly: boolean, update: (slot: Slot, value: number) => void): ChipRecorder {
  return ({ key, chip, lines, stream, recorded }) => {
    const table = gauge ? recorded.gauges : recorded.counters;
    // Only declared series exist from the start; the others are made at
    // their line's first event: 256 chips of 32 idle lines would otherwise
    // hold 4 x 8192 series nobody sees (issue 25).
    const slots = lines.map(({ name, configured }) => (declare && configured ? table.slot(key, [chip, name], true) : undefined));
    on(stream, event, (...args) => {
      const [index, value = 0] = args as readonly number[];
      const line = index === undefined ? undefined : lines[index];
      if (index === undefined || line === undefined || (configuredOnly && !line.configured)) return;
      update((slots[index] ??= table.slot(key, [chip, line.name])), value);
    });
  };
}

/** A counter per line, +1 per `event` about it; configured lines' series declared at 0, other lines' counted too. */
export function countPerLine(event: LineEvent): ChipRecorder {
  return perLine(event, false, true, false, (slot) => {
    slot.value += 1;
  });
}

/** A gauge per configured line, set to the second argument of `event`; `declare`: at 0 from the start, else shown once set. */
export function levelPerLine(event: 'queue' | 'state', declare: boolean): ChipRecorder {
  return perLine(event, true, declare, true, (slot, value) => {
    slot.value = value;
    slot.shown = true;
  });
}

const seconds = (since: bigint): number => Number(process.hrtime.bigint() - since) / 1e9;

/** A latency histogram of the chip: observed from `since` (undefined: not observed) to the event. */
export function latency<E extends ChipEvent>(event: E, since: (...args: Args<E>) => bigint | undefined): ChipRecorder {
  return ({ key, chip, stream, recorded }) => {
    const histogram = recorded.latencies.create(key, [chip]);
    on(stream, event, (...args) => {
      const start = since(...args);
      if (start !== undefined) histogram.observe(seconds(start));
    });
  };
}

/**
 * From the first doorbell since the last publication to the end of the
 * scan that published (an edge or a state): the guest's change reaching
 * MQTT. Four events, one histogram.
 */
export const doorbellToPublish: ChipRecorder = ({ key, chip, stream, recorded }) => {
  const histogram = recorded.latencies.create(key, [chip]);
  let rangAt: bigint | undefined;
  let published = false;
  stream.on('doorbell-received', (at) => {
    rangAt ??= at;
  });
  stream.on('edge', () => {
    published = true;
  });
  stream.on('state', () => {
    published = true;
  });
  stream.on('scanned', () => {
    if (published && rangAt !== undefined) {
      histogram.observe(seconds(rangAt));
      rangAt = undefined;
    }
    published = false;
  });
};
