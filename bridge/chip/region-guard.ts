/**
 * Keeps a chip from acting on shared memory it cannot trust: a file
 * truncated under the mapping fails the chip (once, for good), a removed
 * or replaced file is reported, and host-owned words a guest overwrote are
 * restored (host-words.ts) and reported once per episode.
 */
import type { SharedMemory } from '../../native/index.ts';
import type { Logger } from '../log.ts';
import type { Level } from '../shm/line-registers.ts';
import type { VgpioRegion } from '../shm/region.ts';
import { HostWords } from './host-words.ts';
import { truncation, vanished } from './mapping.ts';
import type { ChipMetrics } from '../metrics/events.ts';
import type { MonitorEmitter } from './monitor-events.ts';

export interface GuardContext {
  events: MonitorEmitter;
  metrics: ChipMetrics;
  log: Logger;
  /** Logs and emits a problem. */
  problem: (message: string) => void;
  /** The chip failed (already logged and emitted): stop touching shared memory. */
  failed: () => void;
}

export class RegionGuard {
  readonly #mem: SharedMemory;
  readonly #hostWords: HostWords;
  readonly #context: GuardContext;
  /** Set once the shared memory can no longer be touched safely; the chip then stays offline. */
  #failure: string | undefined;
  /** A guest is overwriting host-owned words: reported once, until a check finds them intact again. */
  #tampering = false;
  #vanishReported = false;

  constructor(mem: SharedMemory, region: VgpioRegion, hostPeer: number, context: GuardContext) {
    this.#mem = mem;
    this.#hostWords = new HostWords(region, hostPeer);
    this.#context = context;
  }

  /** Why the chip stopped (its shared memory cannot be touched safely), or undefined. */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** The host wrote `level` to a line's `in`: the guard restores that, not what was there. */
  wroteInput(line: number, level: Level): void {
    this.#hostWords.wroteInput(line, level);
  }

  /**
   * False once the memory is no longer the file's because the file was
   * truncated under the mapping: the chip then fails, logged once, and
   * stays offline. Survival does not depend on this: an access past the
   * file's end gets a zero page from the addon's fault guard instead of
   * SIGBUS, and is counted (SharedMemory.faults(), no system call). Each
   * call first reads the mapping's last word, which any truncation but one
   * inside the last page takes away, so the guard has counted it before
   * the caller reads anything. A cut inside the last page reads zeros
   * there without a fault: `checkSize` also compares the file's size (an
   * fstat, ~10 us here). The poll timer's scans check the size; doorbell
   * scans and commands only ask the guard, before and after their accesses.
   */
  usable(checkSize: boolean): boolean {
    if (this.#failure !== undefined) return false;
    const mem = this.#mem;
    // Closed under us (the transport is going away): nothing to touch, nothing to report.
    if (mem.closed) return false;
    // Past the end of every truncated file but one cut inside the last page: reading it first has the fault guard
    // count a truncation before the caller reads anything that would mean something.
    mem.load32(mem.size - 4);
    if (mem.faults() === 0 && !checkSize) return true;
    const problem = truncation(mem) ?? (mem.faults() === 0 ? undefined : 'an access met a page of the shared-memory file that is gone (the file was truncated under the mapping)');
    if (problem === undefined) return true;
    this.#failure = `${problem}; the chip is stopped (restart the bridge once the file is sound)`;
    this.#context.log.error(this.#failure);
    this.#context.events.emit('problem', this.#failure);
    this.#context.failed();
    return false;
  }

  /** Restores host-owned words a guest changed; `identity`: the label, names table and file too (see HostWords.restore). */
  check(identity: boolean): void {
    if (identity) this.#checkVanished();
    const restored = this.#hostWords.restore(identity);
    if (restored.length === 0) {
      this.#tampering = false;
      return;
    }
    this.#context.metrics.emit('header-overwritten', restored.length);
    if (this.#tampering) return;
    this.#tampering = true;
    this.#context.problem(`host-owned words were overwritten by the guest (${restored.join(', ')}); restored (reported once until they stay intact)`);
  }

  /** A removed or replaced file does not hurt the mapping, but a guest started now would not share it. */
  #checkVanished(): void {
    if (this.#vanishReported || !vanished(this.#mem)) return;
    this.#vanishReported = true;
    this.#context.problem(`the shared-memory file ${this.#mem.path ?? ''} was removed or replaced; this chip keeps the region it has mapped, but a guest started now would not see it`);
  }
}
