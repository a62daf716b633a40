/**
 * Generated waveforms on a host-driven line: a periodic signal (pwm), a
 * finite or endless pulse train (pattern) and a bounce (N short dips
 * before settling). Every waveform is one shape: levels alternating from
 * `first`, the first held `firstMs`, the other `secondMs`, `levels` of
 * them (null: forever). Edge k is due at a time computed from the
 * pattern's start on a monotonic clock, never from the previous timer, so
 * a late timer delays one edge and does not shift the ones after it. A
 * timer so late that several edges are due applies them all at once, in
 * order: no edge is skipped. Node has no periodic timer with such a
 * schedule (setInterval re-arms from when its callback ran), hence this.
 *
 * Node's timers fire on whole milliseconds of the event loop's clock, up
 * to a millisecond or more late, which at 100 Hz is a 10% period error.
 * So the timer is set `spinMs` early and the last stretch is a busy wait
 * on the monotonic clock: at most `spinMs` of the event loop per edge
 * (measured figures and the cost in docs/signals.md).
 */
import type { Level } from '../shm/line-registers.ts';

export interface Wave {
  /** The payload's name for it, for logs and errors. */
  kind: 'pwm' | 'pattern' | 'bounce';
  /** Logical level of the first step (ON = 1). */
  first: Level;
  firstMs: number;
  secondMs: number;
  /** Steps in all, the first included; null: until stopped. */
  levels: number | null;
}

/** A monotonic clock in milliseconds and its timers: the real ones, or a fake one in tests. */
export interface Clock {
  now(): number;
  /** How long before an edge is due the timer fires, the rest being waited for on now(); 0: timers only. */
  spinMs: number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const monotonicClock: Clock = {
  now: () => performance.now(),
  spinMs: 1,
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** When step `k` is due, in milliseconds after the pattern's start. */
export function dueMs(wave: Wave, k: number): number {
  return Math.floor(k / 2) * (wave.firstMs + wave.secondMs) + (k % 2 === 1 ? wave.firstMs : 0);
}

/** The logical level of step `k`. */
export function levelAt(wave: Wave, k: number): Level {
  return k % 2 === 0 ? wave.first : wave.first === 1 ? 0 : 1;
}

/**
 * Applies a step's level: true when done, false to stop the waveform (the
 * line cannot take it), 'later' when it cannot be taken yet (the line's
 * queue is full): the same step is tried again RETRY_MS later, so a guest
 * that falls behind delays edges but loses none. `k` counts from 0, the
 * first step.
 */
export type Apply = (level: Level, k: number) => boolean | 'later';

export const RETRY_MS = 1;

export class Waveform {
  readonly wave: Wave;
  readonly #apply: Apply;
  readonly #clock: Clock;
  readonly #ended: () => void;
  #startMs = 0;
  #next = 0;
  #timer: unknown;
  #running = false;

  /** `ended` is called once when the last step is applied or apply refused one, not on stop(). */
  constructor(wave: Wave, apply: Apply, clock: Clock = monotonicClock, ended: () => void = () => undefined) {
    this.wave = wave;
    this.#apply = apply;
    this.#clock = clock;
    this.#ended = ended;
  }

  get running(): boolean {
    return this.#running;
  }

  /**
   * Starts the pattern now, at step `from` (1 when the caller applied step
   * 0 itself, as a command does).
   */
  start(from = 0): void {
    this.#startMs = this.#clock.now();
    this.#next = from;
    this.#running = true;
    this.#run();
  }

  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Applies every step due by now, then sleeps until the next one is due. */
  #run(): void {
    this.#timer = undefined;
    const { levels } = this.wave;
    for (;;) {
      if (!this.#running) return;
      if (levels !== null && this.#next >= levels) {
        this.#finish();
        return;
      }
      const due = this.#startMs + dueMs(this.wave, this.#next);
      const wait = due - this.#clock.now();
      if (wait > this.#clock.spinMs) {
        this.#timer = this.#clock.setTimeout(() => {
          this.#run();
        }, wait - this.#clock.spinMs);
        return;
      }
      // Bounded by spinMs (see above).
      while (this.#clock.now() < due);
      const k = this.#next;
      const applied = this.#apply(levelAt(this.wave, k), k);
      if (applied === 'later') {
        this.#timer = this.#clock.setTimeout(() => {
          this.#run();
        }, RETRY_MS);
        return;
      }
      if (!applied) {
        this.#finish();
        return;
      }
      this.#next += 1;
    }
  }

  #finish(): void {
    this.stop();
    this.#ended();
  }
}
