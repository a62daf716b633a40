/**
 * Drives host-owned input lines with the protocol's no-lost-edge rule: a
 * change is written to `in` and, when the guest asked for that edge or
 * level, its interrupt is raised (`irq_raise`) and a doorbell sent. While the line is
 * still pending (the guest has not flipped its `irq_ack` bit to match),
 * further changes wait in a bounded per-line queue and the line's
 * `ack_req` bit asks the guest to send a doorbell back once it has acknowledged; the
 * host never busy-waits. Writing the level a line already has is no edge.
 */
import { LineRegisters, type Level } from './line-registers.ts';

export type InputResult =
  /** The line already had that level. */
  | 'unchanged'
  /** Written; the guest did not ask for an interrupt on this change. */
  | 'applied'
  /** Written, the line's interrupt raised and a doorbell sent to the guest. */
  | 'interrupt'
  /** Waiting behind a pending interrupt on the same line. */
  | 'queued'
  /** The line's queue is full: the change was refused and nothing changed. */
  | 'overflow';

/**
 * Called once a change is settled: with what writing it to `in` did (after
 * onApplied), or `dropped` when it left the queue unwritten (the guest went
 * away, the chip closes or failed).
 */
export type Settled = (outcome: 'applied' | 'interrupt' | 'unchanged' | 'dropped') => void;

/**
 * Called synchronously right before a change is written to `in` (now or
 * when it leaves the queue), with the level `in` has until then; not for a
 * change that would leave `in` as it is, nor for one dropped unwritten.
 * Whoever must be able to tell after a crash whether the write happened
 * records it here.
 */
export type Writing = (before: Level) => void;

interface Change {
  level: Level;
  settled: Settled | undefined;
  writing: Writing | undefined;
}

export interface InputDriverOptions {
  /** Changes that may wait per line. */
  queueLimit: number;
  /** Sends the guest a doorbell on its interrupt vector (a no-op in polling mode). */
  doorbell: () => void;
  /** Called for every change actually written to `in`, queued or not. */
  onApplied?: (line: number, level: Level, result: 'applied' | 'interrupt') => void;
}

export class InputDriver {
  readonly #lines: LineRegisters;
  readonly #options: InputDriverOptions;
  readonly #queues = new Map<number, Change[]>();

  constructor(lines: LineRegisters, options: InputDriverOptions) {
    if (!Number.isInteger(options.queueLimit) || options.queueLimit < 1) {
      throw new RangeError(`queueLimit must be a positive integer, got ${options.queueLimit}`);
    }
    this.#lines = lines;
    this.#options = options;
  }

  /** Changes waiting for `line`. */
  queued(line: number): number {
    return this.#queues.get(line)?.length ?? 0;
  }

  /** The level `line` will have once its queue drains: the last change waiting, else `in`. */
  latest(line: number): Level {
    return this.#queues.get(line)?.at(-1)?.level ?? this.#lines.input(line);
  }

  /** Lines with changes waiting. */
  get queuedLines(): number[] {
    return [...this.#queues.keys()];
  }

  /**
   * Sets `line` to `level`, now or after the pending interrupt is
   * acknowledged. `settled` is called once the change is in `in` (at once
   * unless it is queued) or dropped unwritten; never for an overflow.
   * `writing`: see Writing.
   */
  set(line: number, level: Level, settled?: Settled, writing?: Writing): InputResult {
    const queue = this.#queues.get(line);
    if (queue === undefined && !this.#lines.pending(line)) {
      const result = this.#write(line, level, writing);
      settled?.(result === 'applied' || result === 'interrupt' ? result : 'unchanged');
      return result;
    }

    const waiting = queue ?? [];
    if (waiting.length >= this.#options.queueLimit) return 'overflow';
    waiting.push({ level, settled, writing });
    this.#queues.set(line, waiting);
    // Ask first, then look again: if the guest acked in between it saw no
    // request and will send no doorbell, so the queue must move on right here.
    this.#lines.setAckRequest(line, true);
    this.#advance(line);
    return 'queued';
  }

  /**
   * Moves every queue on whose line the guest has acknowledged. Call it when
   * a doorbell comes from the guest, and from the poll timer in polling mode.
   */
  acknowledged(): void {
    for (const line of [...this.#queues.keys()]) this.#advance(line);
  }

  /** Forgets every queued change (the guest went away; its view restarts from `in`). */
  clear(): void {
    for (const line of this.#queues.keys()) this.#lines.setAckRequest(line, false);
    this.abandon();
  }

  /** Forgets every queued change without touching shared memory (it can no longer be touched safely). */
  abandon(): void {
    const dropped = [...this.#queues.values()].flat();
    this.#queues.clear();
    for (const change of dropped) change.settled?.('dropped');
  }

  #advance(line: number): void {
    const queue = this.#queues.get(line);
    if (queue === undefined) return;
    let change: Change | undefined;
    while (!this.#lines.pending(line) && (change = queue.shift()) !== undefined) {
      const result = this.#write(line, change.level, change.writing);
      change.settled?.(result === 'applied' || result === 'interrupt' ? result : 'unchanged');
    }
    if (queue.length === 0) {
      this.#queues.delete(line);
      this.#lines.setAckRequest(line, false);
    }
  }

  #write(line: number, level: Level, writing: Writing | undefined): InputResult {
    if (writing !== undefined) {
      const before = this.#lines.input(line);
      if (before !== level) writing(before);
    }
    const previous = this.#lines.setInput(line, level);
    if (previous === level) return 'unchanged';
    if (!this.#lines.wantsInterrupt(line, level)) {
      this.#options.onApplied?.(line, level, 'applied');
      return 'applied';
    }
    // Order matters: `in` is written before the interrupt is raised, so a
    // guest that sees the line pending reads the new level.
    this.#lines.raisePending(line);
    this.#options.doorbell();
    this.#options.onApplied?.(line, level, 'interrupt');
    return 'interrupt';
  }
}
