/**
 * What a chip's shared-memory monitor (monitor.ts) is asked and tells:
 * electrical levels and line numbers, as shared memory has them. Its
 * parts (bank-differ.ts, ring-events.ts, region-guard.ts, doorbell.ts)
 * emit through it; what only metrics want to know goes to the chip's
 * metric stream instead (bridge/metrics/events.ts).
 */
import type { EventEmitter } from 'node:events';
import type { Settled, Writing } from '../shm/input-driver.ts';
import type { Level, LineState } from '../shm/line-registers.ts';

/** A change asked of a host-driven line (ShmMonitor.request). */
export interface Request {
  line: number;
  /** The electrical level wanted, given the one the line will have once its queue drains (a toggle is the chip's policy). */
  level: (latest: Level) => Level;
  /**
   * What must hold before anything is written, besides an open chip and
   * usable memory: `command`, the guest does not drive the line and a
   * guest is online (re-read now, so one that just bound or left counts);
   * `owned`, the guest does not drive the line (a waveform's step);
   * `none` (a pulse's end: a button is never left pressed).
   */
  checks: 'command' | 'owned' | 'none';
  /** Called once the checks passed, right before the level is resolved and written. */
  accepted?: (() => void) | undefined;
  /** See InputDriver.set. */
  settled?: Settled | undefined;
  /** See InputDriver.set. */
  writing?: Writing | undefined;
}

/**
 * What came of a Request: written (`applied`, `interrupt`), queued behind
 * a pending interrupt, or `unchanged` (the latest level already); or
 * refused with nothing written: the chip is `closed` or `failed` (its
 * memory cannot be used), the guest drives the line (`guest_output`), no
 * guest is online (`offline`), or the line's queue is full (`overflow`).
 */
export type Answer = { ok: true; result: 'applied' | 'interrupt' | 'queued' | 'unchanged' } | { ok: false; refused: 'closed' | 'failed' | 'guest_output' | 'offline' | 'overflow' };

export interface MonitorEvents {
  /** The host wrote a new electrical level to a line's `in`: one per change the guest sees. */
  'input-written': [line: number, level: Level];
  /** A guest-driven output changed; `seq` and `guestNs` when the event ring reported it. */
  output: [line: number, level: Level, seq: number | undefined, guestNs: number | undefined];
  /** The guest's driver handed an input edge to the line's interrupt handler (EV_INPUT_EDGE): `level` after it, at `guestNs`. */
  'input-received': [line: number, level: Level, guestNs: number];
  /** A line's registers after a change may have reached it (a scan that found its bank changed, or a command). */
  level: [line: number, state: LineState];
  /** A line's direction or trigger bits changed (and once per line at the first scan). */
  config: [line: number, state: LineState];
  availability: [online: boolean];
  /** Something in shared memory or from a peer made no sense; already logged. */
  problem: [message: string];
}

export type MonitorEmitter = EventEmitter<MonitorEvents>;
