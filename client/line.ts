import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_PULSE_MS, parseCommand } from '../bridge/mqtt/payload.ts';
import { EdgeStream, parseEdge, type Edge, type EdgeKind, type EdgeSource, type EdgesOptions } from './edges.ts';
import { clock, closedError, show, VgpioError } from './errors.ts';
import type { LineInfo, Link, SetAnswer } from './link.ts';
import { measureEdges, type Measurement } from './measure.ts';
import { checkTimeout, waitFor } from './wait.ts';

export type Level = 0 | 1;
/** A level as a test writes it. */
export type LevelLike = Level | boolean | 'ON' | 'OFF';

export interface EdgeMatch {
  edge: EdgeKind | 'any';
  source?: EdgeSource;
}

/** How long a wait lasts when the caller does not say: long enough for a TCG guest, short enough to fail a test soon. */
export const DEFAULT_TIMEOUT_MS = 5000;

const DEFAULT_STATE_WORDS = { payloadOn: 'ON', payloadOff: 'OFF', pulseMs: null };

type Seen = { kind: 'level'; level: Level } | { kind: 'edge'; edge: Edge };

/** Checked at run time too: tests written in JavaScript get no compiler's help. */
function toLevel(level: unknown): Level {
  if (level === 1 || level === true || level === 'ON') return 1;
  if (level === 0 || level === false || level === 'OFF') return 0;
  throw new VgpioError('bad_input', `a level is 0, 1, true, false, 'ON' or 'OFF'; got ${show(level)}`);
}

/** Fails unless `value` is one of `allowed` (checked at run time for the same reason as toLevel). */
function oneOf(what: string, value: unknown, allowed: readonly string[]): void {
  if (typeof value !== 'string' || !allowed.includes(value)) throw new VgpioError('bad_input', `${what} must be ${allowed.map((a) => `'${a}'`).join(', ').replace(/, ([^,]*)$/, ' or $1')}; got ${show(value)}`);
}

const word = (level: Level): string => (level === 1 ? 'ON' : 'OFF');

/**
 * One line of a chip. Its state and edge topics are subscribed on first
 * use and stay subscribed while the client lives, so the line always
 * knows its last level and when it last changed (for error messages).
 */
export class Line {
  readonly chip: string;
  /** The topic level: configured name, else the number. */
  readonly name: string;
  readonly number: number;
  readonly info: LineInfo;
  readonly #link: Link;
  #watching: Promise<void> | undefined;
  #level: Level | undefined;
  /** When the level last changed (an edge's ts_ms), else when this client first heard it. */
  #since: { ms: number; known: boolean } | undefined;
  readonly #listeners = new Set<(seen: Seen) => void>();

  constructor(link: Link, chip: string, info: LineInfo) {
    this.#link = link;
    this.chip = chip;
    this.name = info.name;
    this.number = info.line;
    this.info = info;
  }

  /** `chip/line`, as messages name it. */
  get path(): string {
    return `${this.chip}/${this.name}`;
  }

  #watch(): Promise<void> {
    const { topics, signal } = this.#link;
    if (signal.aborted) return Promise.reject(closedError());
    this.#watching ??= Promise.all([
      this.#link.subscribe(topics.state(this.chip, this.name), (payload) => {
        const parsed = parseCommand(payload, DEFAULT_STATE_WORDS);
        if (!parsed.ok || parsed.value.target.kind !== 'level') return;
        this.#observe({ kind: 'level', level: parsed.value.target.level }, Date.now(), false);
      }),
      this.#link.subscribe(topics.edge(this.chip, this.name), (payload) => {
        const edge = parseEdge(this.chip, this.name, payload);
        if (edge !== undefined) this.#observe({ kind: 'edge', edge }, edge.tsMs, true);
      }),
    ]).then(() => undefined);
    return this.#watching;
  }

  #observe(seen: Seen, atMs: number, known: boolean): void {
    const level: Level = seen.kind === 'level' ? seen.level : seen.edge.edge === 'rising' ? 1 : 0;
    if (level !== this.#level || (known && this.#since?.known !== true)) this.#since = { ms: atMs, known };
    this.#level = level;
    for (const listener of [...this.#listeners]) listener(seen);
  }

  #listen(listener: (seen: Seen) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** `level OFF since 12:01:02.345`, for error messages. */
  #now(): string {
    if (this.#level === undefined || this.#since === undefined) return 'level unknown (no state from the bridge)';
    return `level ${word(this.#level)} since ${this.#since.known ? '' : 'at least '}${clock(this.#since.ms)}`;
  }

  /** Drives the line (an input of the guest) to `level`; resolves with the bridge's answer, rejects with its refusal. */
  async set(level: LevelLike, options: { timeoutMs?: number } = {}): Promise<SetAnswer> {
    const state = word(toLevel(level));
    return this.#link.set(this.chip, this.name, { state }, `set ${this.path} ${state}`, checkTimeout('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS));
  }

  /** Flips the line's latest requested level (docs/topics.md, Commands). */
  async toggle(options: { timeoutMs?: number } = {}): Promise<SetAnswer> {
    return this.#link.set(this.chip, this.name, { state: 'TOGGLE' }, `toggle ${this.path}`, checkTimeout('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS));
  }

  /** Drives the line to `level` (default ON) and back after `ms` milliseconds (the bridge times the return). */
  async pulse(ms: number, options: { level?: LevelLike; timeoutMs?: number } = {}): Promise<SetAnswer> {
    if (!Number.isInteger(ms) || ms < 1 || ms > MAX_PULSE_MS) throw new VgpioError('bad_input', `pulse ${this.path}: ms must be an integer 1..${MAX_PULSE_MS}; got ${show(ms)}`);
    const state = word(toLevel(options.level ?? 1));
    return this.#link.set(this.chip, this.name, { state, pulse_ms: ms }, `pulse ${this.path} ${state} for ${ms} ms`, checkTimeout('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS));
  }

  /** The line's level as the bridge last published it (its retained state). */
  async level(options: { timeoutMs?: number } = {}): Promise<Level> {
    const timeoutMs = checkTimeout('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    await this.#watch();
    if (this.#level !== undefined) return this.#level;
    return waitFor<Level>(
      (done) =>
        this.#listen(() => {
          if (this.#level !== undefined) done(this.#level);
        }),
      timeoutMs,
      () => new VgpioError('timeout', `expected the state of ${this.path} on ${this.#link.topics.state(this.chip, this.name)} within ${timeoutMs} ms; saw none (is the line's retain off?)`),
      this.#link.signal,
    );
  }

  /**
   * Waits for a level (resolves at once when the line has it) or for the
   * next edge that matches (`{edge: 'rising'|'falling'|'any', source}`),
   * counted from this call.
   */
  waitFor(target: LevelLike, options?: { timeoutMs?: number }): Promise<Level>;
  waitFor(target: EdgeMatch, options?: { timeoutMs?: number }): Promise<Edge>;
  async waitFor(target: LevelLike | EdgeMatch, options: { timeoutMs?: number } = {}): Promise<Level | Edge> {
    const timeoutMs = checkTimeout('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    if (typeof target !== 'object') return this.#untilLevel(toLevel(target), timeoutMs, '');
    const { edge: kind, source } = target;
    oneOf('edge', kind, ['rising', 'falling', 'any']);
    if (source !== undefined) oneOf('source', source, ['host', 'guest']);
    await this.#watch();
    const others: Edge[] = [];
    const wanted = `${kind === 'any' ? 'an edge' : kind}${source === undefined ? '' : ` from the ${source}`}`;
    return waitFor<Edge>(
      (done) =>
        this.#listen((seen) => {
          if (seen.kind !== 'edge') return;
          const { edge } = seen;
          if ((kind === 'any' || edge.edge === kind) && (source === undefined || edge.source === source)) done(edge);
          else others.push(edge);
        }),
      timeoutMs,
      () => {
        const saw = others.length === 0 ? 'none' : others.map((e) => `${e.edge} from the ${e.source} at ${clock(e.tsMs)}`).join(', ');
        return new VgpioError('timeout', `expected ${this.path} ${wanted} within ${timeoutMs} ms; saw ${saw}; ${this.#now()}`);
      },
      this.#link.signal,
    );
  }

  /** Asserts that the line is at `level` now or gets there within `withinMs`. */
  async expectLevel(level: LevelLike, options: { withinMs?: number } = {}): Promise<void> {
    await this.#untilLevel(toLevel(level), checkTimeout('withinMs', options.withinMs ?? DEFAULT_TIMEOUT_MS), 'to be ');
  }

  async #untilLevel(level: Level, timeoutMs: number, verb: string): Promise<Level> {
    await this.#watch();
    if (this.#level === level) return level;
    return waitFor<Level>(
      (done) =>
        this.#listen(() => {
          if (this.#level === level) done(level);
        }),
      timeoutMs,
      () => new VgpioError('timeout', `expected ${this.path} ${verb}${word(level)} within ${timeoutMs} ms; saw ${this.#now()}`),
      this.#link.signal,
    );
  }

  /**
   * The line's edges from now on, as an async iterator. Await it: it
   * resolves once the subscription is in place, so no edge after that is
   * missed. `close()` it (or `await using`) when done.
   */
  async edges(options: EdgesOptions = {}): Promise<EdgeStream> {
    const timeoutMs = checkTimeout('timeoutMs', options.timeoutMs ?? 10_000);
    await this.#watch();
    const { source } = options;
    return new EdgeStream(
      this.path,
      (push) =>
        this.#listen((seen) => {
          if (seen.kind === 'edge' && (source === undefined || seen.edge.source === source)) push(seen.edge);
        }),
      timeoutMs,
      this.#link.signal,
    );
  }

  /** Collects the line's edges for `windowMs` and reports their period, duty cycle and frequency (guest timestamps where every edge has one). */
  async measure(options: { windowMs: number; source?: EdgeSource }): Promise<Measurement> {
    const windowMs = checkTimeout('windowMs', options.windowMs);
    const stream = await this.edges(options.source === undefined ? {} : { source: options.source });
    try {
      await sleep(windowMs, undefined, { signal: this.#link.signal }).catch(() => {
        throw new VgpioError('closed', `the client was closed while measuring ${this.path}`);
      });
    } finally {
      stream.close();
    }
    return measureEdges(stream.buffered);
  }
}
