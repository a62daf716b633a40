/**
 * What the monitor remembers of each line, to tell what changed: it diffs
 * a bank's words against the last read (only the lines whose words moved),
 * takes the host's own writes to `in` as they happen, and holds what the
 * guest's driver last reported through the event ring (ring-events.ts).
 * It emits `input-written`, `output`, `level` and `config`.
 */
import { protocol } from '../../native/index.ts';
import { LineRegisters, type BankWords, type Level, type LineState } from '../shm/line-registers.ts';
import type { MonitorEmitter } from './monitor-events.ts';

/** What the differ remembers of a line. */
interface Seen {
  in: Level;
  out: Level;
  isOutput: boolean;
  /** Direction and trigger bits, -1 before the first scan. */
  viewBits: number;
  /**
   * Whether the guest's interrupt is enabled, as its driver last reported
   * in the event ring (EV_IRQ_CONFIG); undefined until a report, and again
   * after a resynchronisation or a new driver, when the bank's irq_en is
   * all there is. irq_en alone also drops while the flow handler masks the
   * line around each interrupt it handles, which is no change of the
   * guest's configuration: `.../config` would flap at every edge.
   */
  enabled: boolean | undefined;
  /**
   * An output level the banks showed that the event ring has not reported
   * yet. The driver writes `out` before it appends the entry, so a scan
   * between the two reads the level first; the entry (with the guest's
   * timestamp) arrives by the next scan. Emitted without a timestamp at the
   * next scan only if the ring has not reported the line by then (ring
   * full, corrupt, or an old driver).
   */
  held: Level | undefined;
}

/** Direction and trigger bits of a line: what `.../config` says, as one number. */
function viewBits(state: LineState): number {
  const { irq } = state;
  return [state.isOutput, irq.enabled, irq.rising, irq.falling, irq.high, irq.low].reduce((bits, on, i) => bits | (on ? 1 << i : 0), 0);
}

/**
 * The lines whose words differ between two reads of a bank, one bit per
 * line (what a line's state is made of: levels, direction, interrupt
 * configuration; not the pending bits, which decide nothing published).
 */
function changedLines(a: BankWords, b: BankWords): number {
  return ((a.in ^ b.in) | (a.out ^ b.out) | (a.dir ^ b.dir) | (a.irqEn ^ b.irqEn) | (a.irqRise ^ b.irqRise) | (a.irqFall ^ b.irqFall) | (a.irqHigh ^ b.irqHigh) | (a.irqLow ^ b.irqLow)) >>> 0;
}

/** Every line of a bank, for a bank not read before. */
const WHOLE_BANK = 0xffffffff;

export class BankDiffer {
  readonly #lines: LineRegisters;
  /** Lines the configuration names: events for others are not emitted. */
  readonly #configured: number;
  readonly #events: MonitorEmitter;
  readonly #seen: Seen[] = [];
  /** Each bank's words at the last diff: a diff looks at the lines of a bank only when they changed. */
  readonly #banks: (BankWords | undefined)[] = [];
  /** Lines with a held output level (Seen.held), emitted at the next diff. */
  readonly #held = new Set<number>();

  constructor(lines: LineRegisters, configured: number, events: MonitorEmitter) {
    this.#lines = lines;
    this.#configured = configured;
    this.#events = events;
  }

  /** False until start(): nothing is diffed before the first look at the lines. */
  get started(): boolean {
    return this.#seen.length > 0;
  }

  /** Takes every line's registers now as what was seen (the first diff emits every line's state and configuration). */
  start(): void {
    for (const state of this.#lines.snapshot()) this.#seen.push({ in: state.input, out: state.output, isOutput: state.isOutput, viewBits: -1, enabled: undefined, held: undefined });
  }

  /**
   * Diffs every line whose words changed since the last diff, after
   * emitting the output levels the last diff held and the event ring has
   * not reported since (call it after draining the ring).
   */
  diffBanks(): void {
    this.#emitHeld();
    for (let bank = 0; bank < this.#lines.banks; bank++) {
      const words = this.#lines.bank(bank);
      const before = this.#banks[bank];
      // Only the lines that changed: one guest output must not cost 32 line states and events.
      const changed = before === undefined ? WHOLE_BANK : changedLines(before, words);
      if (changed === 0) continue;
      this.#banks[bank] = words;
      const first = bank * protocol.BANK_LINES;
      const last = Math.min(this.#configured, first + protocol.BANK_LINES);
      for (let line = first; line < last; line++) {
        if (((changed >>> (line - first)) & 1) !== 0) this.diffLine(line, LineRegisters.lineFromBank(words, line));
      }
    }
  }

  /**
   * One event per change the input driver writes to `in`. Diffing `in` at
   * scan time is not enough: a queue can move on more than once between
   * two scans (a guest acking fast, or changes without an interrupt), and
   * the guest sees every one of them. The one place a host edge is found.
   */
  hostWrote(index: number, electrical: Level): void {
    const seen = this.#known(index);
    if (seen === undefined || electrical === seen.in) return;
    seen.in = electrical;
    if (!seen.isOutput) this.#events.emit('input-written', index, electrical);
  }

  /** The guest's driver reported an output level (EV_OUTPUT); emitted when it is news. */
  guestOutput(index: number, level: Level, seq: number, guestNs: number): void {
    const seen = this.#known(index);
    if (seen === undefined) return;
    // The ring reports this line: what a scan held of it is in the ring too (this entry or one after it).
    seen.held = undefined;
    this.#held.delete(index);
    if (level === seen.out) return;
    seen.out = level;
    this.#events.emit('output', index, level, seq, guestNs);
  }

  /** The guest's driver reported whether a line's interrupt is enabled (EV_IRQ_CONFIG). */
  guestEnabled(index: number, enabled: boolean): void {
    const seen = this.#known(index);
    if (seen === undefined) return;
    seen.enabled = enabled;
    // Diff the line's bank again even if its words look as before: they may already hold the change.
    this.#banks[Math.floor(index / protocol.BANK_LINES)] = undefined;
  }

  /** The bank's irq_en is the truth again until the guest's driver reports. */
  forgetReportedEnables(): void {
    for (const seen of this.#seen) seen.enabled = undefined;
    // The banks' words are the truth again: diff every line at the next scan, not only those whose words change.
    this.#banks.length = 0;
  }

  /** Emits what changed on a line whose registers are `bankState`. */
  diffLine(index: number, bankState: LineState): void {
    const seen = this.#known(index);
    if (seen === undefined) return;
    const state = seen.enabled === undefined || seen.enabled === bankState.irq.enabled ? bankState : { ...bankState, irq: { ...bankState.irq, enabled: seen.enabled } };
    // Host edges come from hostWrote alone: only the host writes `in` (the guard restores a guest's scribble first).
    seen.in = state.input;
    // A level the ring has not reported, on a line that drives it. On a line still an input it is no edge yet:
    // direction_output writes `out` (and its ring entry) before `dir`, and the entry must not find it already seen.
    if (state.isOutput && state.output !== seen.out) {
      seen.held = state.output;
      this.#held.add(index);
    } else if (seen.held !== undefined) {
      seen.held = undefined;
      this.#held.delete(index);
    }
    const bits = viewBits(state);
    if (bits !== seen.viewBits) {
      seen.viewBits = bits;
      this.#events.emit('config', index, state);
    }
    seen.isOutput = state.isOutput;
    this.#events.emit('level', index, state);
  }

  /** Emits each held output level the ring did not report (without a guest timestamp). */
  #emitHeld(): void {
    for (const index of this.#held) {
      const seen = this.#seen[index];
      if (seen?.held === undefined) continue;
      const level = seen.held;
      seen.held = undefined;
      if (level === seen.out) continue;
      seen.out = level;
      this.#events.emit('output', index, level, undefined, undefined);
    }
    this.#held.clear();
  }

  /** Emits what the last diff held now: the chip stops, and no later scan will. */
  flush(): void {
    this.#emitHeld();
  }

  #known(index: number): Seen | undefined {
    return index < this.#configured ? this.#seen[index] : undefined;
  }
}
