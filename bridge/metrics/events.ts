/**
 * The one stream a chip's metrics are recorded from (`Chip.metrics`): the
 * monitor, its parts and the line layer emit here what only metrics want
 * to know, each event with typed arguments. table.ts says which metric
 * each event feeds.
 */
import type { EventEmitter } from 'node:events';
import type { CommandResult, GuestEventKind } from './metrics.ts';

export interface ChipMetricEvents {
  /** A doorbell from the guest, at `at` (process.hrtime.bigint()), before the scan it causes. */
  'doorbell-received': [at: bigint];
  /** The bridge sent the guest a doorbell. */
  'doorbell-sent': [];
  /** An input change raised the line's interrupt. */
  interrupt: [];
  'guest-event': [kind: GuestEventKind];
  /** The bridge rebuilt line state from the banks instead of the event ring. */
  'ring-resync': [];
  'ring-invalid': [entries: number];
  'ring-dropped': [entries: number];
  'header-overwritten': [words: number];
  peers: [count: number];
  'guest-bound': [online: boolean];
  /** The number of changes waiting on a line changed. */
  queue: [line: number, depth: number];
  /** A scan finished: every change it found has been emitted. */
  scanned: [];
  /** A command (or a waveform's step) was accepted; `startedAt` (process.hrtime.bigint()) is when it arrived. */
  command: [result: CommandResult, startedAt: bigint];
  /** A change was refused because the line's queue is full. */
  overflow: [line: number];
  /** An edge was emitted for publication. */
  edge: [source: 'host' | 'guest'];
  /** The guest confirmed an input edge (EV_INPUT_EDGE). */
  received: [line: number];
  /** A line's level was emitted for publication (not a replay). */
  state: [line: number, level: number];
}

export type ChipMetrics = EventEmitter<ChipMetricEvents>;
