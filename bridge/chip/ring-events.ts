/**
 * What a drain of the guest's event ring (bridge/shm/event-ring.ts) means
 * for the monitor: each entry handed to the bank differ (outputs, reported
 * interrupt enables) or emitted (input edges the guest took, a count per
 * kind), and a ring the guest overran or scribbled over reported and
 * resynchronised from the banks.
 */
import { protocol } from '../../native/index.ts';
import type { Logger } from '../log.ts';
import type { GuestEventKind } from '../metrics/metrics.ts';
import type { DrainResult, RingEvent } from '../shm/event-ring.ts';
import type { BankDiffer } from './bank-differ.ts';
import type { ChipMetrics } from '../metrics/events.ts';
import type { MonitorEmitter } from './monitor-events.ts';

const EVENT_KINDS = new Map<number, GuestEventKind>([
  [protocol.EV_OUTPUT, 'output'],
  [protocol.EV_DIRECTION, 'direction'],
  [protocol.EV_IRQ_CONFIG, 'irq_config'],
  [protocol.EV_INPUT_EDGE, 'input_edge'],
]);

export interface RingContext {
  differ: BankDiffer;
  events: MonitorEmitter;
  metrics: ChipMetrics;
  /** Logs and emits a problem. */
  problem: (message: string) => void;
  log: Logger;
  /** Lines the configuration names: entries for others are ignored. */
  configured: number;
}

/** Reports what went wrong in a drain, then hands its entries on in order. */
export function followRing(drained: DrainResult, context: RingContext): void {
  const { differ, metrics, problem, log } = context;
  if (drained.corrupt) {
    metrics.emit('ring-resync');
    problem('event ring head is further ahead than the ring holds; skipped to it and resynchronised from the banks');
  }
  if (drained.invalid > 0) {
    metrics.emit('ring-invalid', drained.invalid);
    problem(`${drained.invalid} event-ring entr${drained.invalid === 1 ? 'y' : 'ies'} with an unknown line or kind ignored`);
  }
  if (drained.implausibleDrop > 0) {
    metrics.emit('ring-resync');
    problem(`the event ring's dropped counter jumped by ${drained.implausibleDrop}, more than a guest can drop; not counted, resynchronised from the banks`);
  }
  if (drained.dropped > 0) {
    metrics.emit('ring-dropped', drained.dropped);
    metrics.emit('ring-resync');
    log.warn(`the guest dropped ${drained.dropped} event-ring entries (ring full); resynchronised from the banks`);
  }
  if (drained.corrupt || drained.implausibleDrop > 0 || drained.dropped > 0) differ.forgetReportedEnables();
  for (const event of drained.events) ringEvent(event, context);
}

function ringEvent(event: RingEvent, { differ, events, metrics, configured }: RingContext): void {
  if (event.line >= configured) return;
  const kind = EVENT_KINDS.get(event.kind);
  if (kind !== undefined) metrics.emit('guest-event', kind);
  if (event.kind === protocol.EV_OUTPUT) {
    differ.guestOutput(event.line, event.value === 0 ? 0 : 1, event.seq, Number(event.guestNs));
  } else if (event.kind === protocol.EV_INPUT_EDGE) {
    events.emit('input-received', event.line, event.value === 0 ? 0 : 1, Number(event.guestNs));
  } else if (event.kind === protocol.EV_IRQ_CONFIG) {
    differ.guestEnabled(event.line, (event.value & protocol.IRQ_ENABLED) !== 0);
  }
}
