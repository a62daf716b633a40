/**
 * One virtual GPIO chip as the MQTT side sees it: the line layer (policy)
 * over a shared-memory monitor (mechanism, monitor.ts). It turns the
 * monitor's electrical events into logical line states and edges (after
 * `inverted`), resolves commands (toggles against the queue tail, pulses,
 * waveforms: signals/waveform.ts) and debounces guest-driven lines. It knows nothing about MQTT.
 * Everything it reports is read back from shared memory, never what it
 * assumed it wrote.
 */
import { EventEmitter } from 'node:events';
import type { ChipConfig, LineConfig } from '../settings/types.ts';
import type { Logger } from '../log.ts';
import type { CommandResult, RejectReason } from '../metrics/metrics.ts';
import type { IrqConfig, Level, LineState } from '../shm/line-registers.ts';
import type { Settled } from '../shm/input-driver.ts';
import { logical, type LineCommand } from '../mqtt/payload.ts';
import { Waveform } from '../signals/waveform.ts';
import { ShmMonitor, type Answer, type Request } from './monitor.ts';

export type EdgeSource = 'host' | 'guest';

export interface EdgeEvent {
  line: LineConfig;
  /** In published (logical) terms: an inverted line's electrical rise is a falling edge. */
  edge: 'rising' | 'falling';
  source: EdgeSource;
  /** The guest's ring sequence number for guest edges seen in the ring, the chip's own count otherwise. */
  seq: number;
  /** Host wall clock when the bridge saw the change, milliseconds since the epoch. */
  tsMs: number;
  /** Guest monotonic clock of the change, when the guest reported it through the ring. */
  guestNs?: number;
}

/** The guest's confirmation (its event ring's EV_INPUT_EDGE) that its interrupt handler took an input edge of `line`. */
export interface ReceivedEvent {
  line: LineConfig;
  /** From the level after the edge, in published (logical) terms. */
  edge: 'rising' | 'falling';
  /** Guest monotonic clock when the driver handed the edge on. */
  guestNs: number;
  /** Host wall clock when the bridge read the confirmation, milliseconds since the epoch. */
  tsMs: number;
}

/** The guest's view of a line, as published on `.../config`. */
export interface LineView {
  line: number;
  name: string;
  /** What the guest configured: output = the guest drives it. */
  direction: 'input' | 'output';
  /** What the bridge's configuration expects. */
  expected: 'input' | 'output';
  irq: IrqConfig;
}

export interface LineStatus extends LineView {
  /** Logical level (after `inverted`). */
  level: Level;
  state: string;
  pending: boolean;
  queued: number;
}

export interface ChipEvents {
  /** `replay`: republished as it was (after a reconnect), not a change. */
  state: [line: LineConfig, level: Level, replay: boolean];
  edge: [edge: EdgeEvent];
  received: [received: ReceivedEvent];
  config: [view: LineView];
  availability: [online: boolean];
  /** Something in shared memory or from a peer made no sense; already logged. */
  problem: [message: string];
  /** A pulse's end or a waveform's next step could not be written, so it stopped before its end; already logged. */
  'waveform-stopped': [stopped: WaveformStopped];
}

/** Why a pulse or waveform stopped before its end (a later command stopping it is no problem and not reported). */
export interface WaveformStopped {
  line: LineConfig;
  kind: 'pulse' | Waveform['wave']['kind'];
  /** `guest_output`: the guest made the line an output; `chip_failed`: its shared memory cannot be used; `queue_overflow`: a pulse's end found the queue full. */
  reason: 'guest_output' | 'chip_failed' | 'queue_overflow';
  message: string;
}

export type CommandOutcome = { ok: true; result: CommandResult } | { ok: false; error: string; reason: RejectReason };

/**
 * Called once per command when it is taken: in shared memory (with the
 * host edge it made, if it made one), refused or `unchanged` (no edge), or
 * dropped from the line's queue unwritten (`dropped`: the guest went away
 * or the chip closed).
 */
export type Taken = (edge: EdgeEvent | undefined, dropped: boolean) => void;

/**
 * Called synchronously right before a command's change reaches shared
 * memory (at once, or when it leaves the line's queue), with the line, the
 * electrical level it gets and the one it has until then: what must be
 * recorded to tell after a crash whether the change was made. A pulse's
 * return and a waveform's later steps are not the command's change.
 */
export type Writing = (line: number, level: Level, before: Level) => void;

/** What the line layer remembers of a line. */
interface Tracked {
  /** Last level published (logical), undefined before the first publication. */
  published: Level | undefined;
  /** Last level seen while a debounce timer runs. */
  seen: Level;
  debounce: NodeJS.Timeout | undefined;
  pulse: NodeJS.Timeout | undefined;
  /** A generated waveform running on the line; the next command stops it. */
  wave: Waveform | undefined;
  /** The guest's view as last published. */
  view: LineView | undefined;
}

export class Chip extends EventEmitter<ChipEvents> {
  readonly config: ChipConfig;
  readonly monitor: ShmMonitor;
  readonly #log: Logger;
  readonly #tracked: Tracked[] = [];
  readonly #byName = new Map<string, LineConfig>();
  #hostSeq = 0;
  /** The last host edge emitted: a write that changed `in` emitted it just before its change settles. */
  #lastHostEdge: EdgeEvent | undefined;

  private constructor(monitor: ShmMonitor, log: Logger) {
    super();
    this.config = monitor.config;
    this.monitor = monitor;
    this.#log = log;
    for (const line of this.config.lines) {
      this.#byName.set(line.name, line);
      this.#tracked.push({ published: undefined, seen: 0, debounce: undefined, pulse: undefined, wave: undefined, view: undefined });
    }
    const line = (index: number): LineConfig | undefined => this.config.lines[index];
    monitor.on('input-written', (index, level) => {
      const config = line(index);
      if (config !== undefined) this.#edge(config, level, 'host', undefined);
    });
    monitor.on('output', (index, level, seq, guestNs) => {
      const config = line(index);
      if (config !== undefined) this.#edge(config, level, 'guest', seq, guestNs);
    });
    monitor.on('input-received', (index, level, guestNs) => {
      const config = line(index);
      if (config !== undefined) this.#received({ line: config, edge: logical(level, config) === 1 ? 'rising' : 'falling', guestNs, tsMs: Date.now() });
    });
    monitor.on('config', (index, state) => {
      const config = line(index);
      const tracked = this.#tracked[index];
      if (config === undefined || tracked === undefined) return;
      tracked.view = this.#view(config, state);
      this.emit('config', tracked.view);
    });
    monitor.on('level', (index, state) => {
      const config = line(index);
      const tracked = this.#tracked[index];
      if (config !== undefined && tracked !== undefined) this.#publishLevel(config, tracked, logical(state.level, config), state.isOutput);
    });
    monitor.on('availability', (online) => {
      this.emit('availability', online);
    });
    monitor.on('problem', (message) => {
      this.emit('problem', message);
    });
  }

  /** Opens the chip's transport and region; emits nothing until start(). */
  static async open(config: ChipConfig, log: Logger): Promise<Chip> {
    return new Chip(await ShmMonitor.open(config, log), log);
  }

  /** Emits every line's current state and configuration, then follows doorbells and the poll timer. */
  start(): void {
    this.monitor.start();
  }

  /** The chip's metric stream (bridge/metrics/events.ts): the monitor's and the line layer's. */
  get metrics(): ShmMonitor['metrics'] {
    return this.monitor.metrics;
  }

  get region(): ShmMonitor['region'] {
    return this.monitor.region;
  }

  get reattached(): boolean {
    return this.monitor.reattached;
  }

  get online(): boolean {
    return this.monitor.online;
  }

  /** Why the chip stopped (its shared memory cannot be touched safely), or undefined. */
  get failure(): string | undefined {
    return this.monitor.failure;
  }

  /** Peers on the chip's ivshmem server (server/client mode). */
  get peers(): number[] {
    return this.monitor.peers;
  }

  /** Re-reads shared memory and emits what changed (see ShmMonitor.scan). */
  scan(identity = true): void {
    this.monitor.scan(identity);
  }

  /** Looks a line up by its topic name or its number. */
  line(nameOrNumber: string): LineConfig | undefined {
    const byName = this.#byName.get(nameOrNumber);
    if (byName !== undefined) return byName;
    return /^\d+$/.test(nameOrNumber) ? this.config.lines[Number(nameOrNumber)] : undefined;
  }

  /** A line's state as shared memory has it now (not for a failed chip: see `failure`). */
  status(line: LineConfig): LineStatus {
    const state = this.monitor.state(line.line);
    const level = logical(state.level, line);
    return {
      ...this.#view(line, state),
      level,
      state: level === 1 ? line.payloadOn : line.payloadOff,
      pending: state.pending,
      queued: this.monitor.queued(line.line),
    };
  }

  /**
   * Applies a command to a host-driven line: checked, then written through
   * the input queue. It resolves against the line's latest requested level
   * (the last change still queued, else `in`), so N toggles are N changes
   * and a command equal to that level is `unchanged` and queues nothing.
   * Changes already queued stay; a new one is appended. The work is O(1) in
   * the chip's size: one bank and two header words are read, no scan.
   * `taken` (see Taken) is called exactly once: at once, or when a change
   * queued behind a pending interrupt is written.
   */
  command(line: LineConfig, command: LineCommand, taken?: Taken, writing?: Writing): CommandOutcome {
    let settled = false;
    const settle = (edge: EdgeEvent | undefined, dropped = false): void => {
      if (settled) return;
      settled = true;
      taken?.(edge, dropped);
    };
    const outcome = this.#command(
      line,
      command,
      (result) => {
        settle(result === 'applied' || result === 'interrupt' ? this.#lastHostEdge : undefined, result === 'dropped');
      },
      writing,
    );
    // Refused, unchanged or overflowing: nothing was written and nothing will be.
    if (!outcome.ok || outcome.result === 'unchanged') settle(undefined);
    return outcome;
  }

  #command(line: LineConfig, command: LineCommand, settled: Settled, writing: Writing | undefined): CommandOutcome {
    const started = process.hrtime.bigint();
    const refuse = (reason: RejectReason, error: string): CommandOutcome => ({ ok: false, reason, error });
    if (line.direction === 'output') {
      return refuse('not_host_driven', `line ${line.name} of chip ${this.config.name} is configured as an output the guest drives; it cannot be set`);
    }
    const tracked = this.#tracked[line.line];
    /** The logical level the command resolved to: a toggle against the line's latest requested level. */
    let target = 0 as Level;
    const resolve = (latest: Level): Level => {
      target = command.target.kind === 'toggle' ? (latest === 1 ? 0 : 1) : command.target.level;
      return target;
    };
    const answer = this.#request(line, 'command', resolve, settled, writing, () => {
      if (tracked === undefined) return;
      if (tracked.pulse !== undefined) {
        // A new command replaces a pulse's pending return; what is queued stays.
        clearTimeout(tracked.pulse);
        tracked.pulse = undefined;
      }
      // Likewise any later command stops a waveform.
      tracked.wave?.stop();
      tracked.wave = undefined;
    });
    if (!answer.ok) {
      switch (answer.refused) {
        case 'closed':
          return refuse('chip_offline', `chip ${this.config.name} is shutting down`);
        case 'failed':
          return refuse('chip_offline', `chip ${this.config.name} failed: ${this.monitor.failure ?? ''}`);
        case 'guest_output':
          return refuse('not_host_driven', `line ${line.name} of chip ${this.config.name} is an output in the guest (the guest drives it); it cannot be set`);
        case 'offline':
          return refuse('chip_offline', `chip ${this.config.name} has no guest with a bound driver; command not applied`);
        case 'overflow':
          this.metrics.emit('overflow', line.line);
          return refuse('queue_overflow', `line ${line.name} of chip ${this.config.name} has ${this.config.queueLimit} changes waiting for the guest; change refused`);
      }
    }
    const { result } = answer;
    if (command.pulseMs !== null && tracked !== undefined && result !== 'unchanged') {
      const back: Level = target === 1 ? 0 : 1;
      tracked.pulse = setTimeout(() => {
        tracked.pulse = undefined;
        // The pulse ends even if the guest left meanwhile: a button is never left pressed.
        const end = this.#request(line, 'none', () => back);
        if (!end.ok && end.refused === 'overflow') this.#stopped({ line, kind: 'pulse', reason: 'queue_overflow', message: `line ${line.name}: the end of a pulse was refused, the queue is full` });
      }, command.pulseMs);
    }
    if (command.wave !== undefined && tracked !== undefined) this.#startWave(line, tracked, command.wave);
    this.metrics.emit('command', result, started);
    return { ok: true, result };
  }

  /**
   * Runs `wave` on `line` from its second step (the command wrote the
   * first). Each step is written like a command's change: through the
   * input queue, published as an edge and counted as a command.
   */
  #startWave(line: LineConfig, tracked: Tracked, wave: Waveform['wave']): void {
    const waveform = new Waveform(
      wave,
      (level) => {
        const started = process.hrtime.bigint();
        const answer = this.#request(line, 'owned', () => level);
        if (answer.ok) {
          this.metrics.emit('command', answer.result, started);
          return true;
        }
        switch (answer.refused) {
          case 'failed':
            this.#stopped({ line, kind: wave.kind, reason: 'chip_failed', message: `line ${line.name}: the ${wave.kind} waveform stopped, chip ${this.config.name} failed: ${this.monitor.failure ?? ''}` });
            return false;
          case 'guest_output':
            this.#stopped({ line, kind: wave.kind, reason: 'guest_output', message: `line ${line.name}: the ${wave.kind} waveform stopped, the guest made the line an output` });
            return false;
          case 'overflow':
            // The guest is behind: the step waits for room in the queue (see Apply), nothing is refused or lost.
            return 'later';
          default:
            // The bridge stopping ends its waveforms quietly.
            return false;
        }
      },
      undefined,
      () => {
        if (tracked.wave === waveform) tracked.wave = undefined;
      },
    );
    tracked.wave = waveform;
    waveform.start(1);
  }

  /**
   * Asks the monitor for a level on `line`: `level` resolves the logical
   * level wanted from the logical level the line will have once its queue
   * drains; the monitor checks (see Request.checks), writes and emits what
   * the line shows. `accepted`: see Request.
   */
  #request(line: LineConfig, checks: Request['checks'], level: (latest: Level) => Level, settled?: Settled, writing?: Writing, accepted?: () => void): Answer {
    /** The logical level resolved, once the monitor asked (after its checks passed). */
    let wanted: Level | undefined;
    const resolve = (latest: Level): Level => {
      wanted = level(logical(latest, line));
      return logical(wanted, line);
    };
    const recorded =
      writing === undefined
        ? undefined
        : (before: Level): void => {
            // Called only once `resolve` ran: the electrical level being written is its answer.
            writing(line.line, before === 1 ? 0 : 1, before);
          };
    const answer = this.monitor.request({ line: line.line, checks, level: resolve, accepted, settled, writing: recorded });
    // Guarded: the message would otherwise be built for every command.
    if (this.#log.enabled('debug')) this.#log.debug(`line ${line.name} <- ${wanted === undefined ? '?' : wanted === 1 ? line.payloadOn : line.payloadOff}: ${answer.ok ? answer.result : answer.refused}`);
    return answer;
  }

  #stopped(stopped: WaveformStopped): void {
    this.#log.warn(stopped.message);
    this.emit('waveform-stopped', stopped);
  }

  /**
   * Whether a change a previous run was about to make (see Writing) is in
   * shared memory: the line's `in` shows `level` (electrical) instead of
   * `before`. Meaningful only before this run writes the line. Returns the
   * host edge that change made (counted, not emitted: it happened in the
   * previous run), or undefined when it was not made or cannot be told.
   */
  written(line: number, level: Level, before: Level): EdgeEvent | undefined {
    const config = this.config.lines[line];
    if (config === undefined || level === before || !this.monitor.inputIs(line, level)) return undefined;
    return this.#makeEdge(config, level, 'host', undefined);
  }

  #edge(line: LineConfig, electrical: Level, source: EdgeSource, seq: number | undefined, guestNs?: number): void {
    const edge = this.#makeEdge(line, electrical, source, seq, guestNs);
    if (source === 'host') this.#lastHostEdge = edge;
    this.emit('edge', edge);
    this.metrics.emit('edge', source);
  }

  #makeEdge(line: LineConfig, electrical: Level, source: EdgeSource, seq: number | undefined, guestNs?: number): EdgeEvent {
    this.#hostSeq = (this.#hostSeq + 1) >>> 0;
    const level = logical(electrical, line);
    return {
      line,
      edge: level === 1 ? 'rising' : 'falling',
      source,
      seq: seq ?? this.#hostSeq,
      tsMs: Date.now(),
      ...(guestNs === undefined ? {} : { guestNs }),
    };
  }

  #view(line: LineConfig, state: LineState): LineView {
    return { line: line.line, name: line.name, direction: state.isOutput ? 'output' : 'input', expected: line.direction, irq: state.irq };
  }

  #publishLevel(line: LineConfig, tracked: Tracked, level: Level, guestDriven: boolean): void {
    if (guestDriven && line.debounceMs > 0 && tracked.published !== undefined) {
      if (level !== tracked.seen) {
        tracked.seen = level;
        if (tracked.debounce !== undefined) clearTimeout(tracked.debounce);
        tracked.debounce = setTimeout(() => {
          tracked.debounce = undefined;
          if (tracked.seen !== tracked.published) {
            tracked.published = tracked.seen;
            this.#emitState(line, tracked.seen);
          }
        }, line.debounceMs);
      }
      return;
    }
    tracked.seen = level;
    if (level === tracked.published) return;
    tracked.published = level;
    this.#emitState(line, level);
  }

  #emitState(line: LineConfig, level: Level): void {
    this.emit('state', line, level, false);
    this.metrics.emit('state', line.line, level);
  }

  #received(received: ReceivedEvent): void {
    this.emit('received', received);
    this.metrics.emit('received', received.line.line);
  }

  /** Current state of every line, for republishing (e.g. after an MQTT reconnect). */
  republish(): void {
    for (const [index, tracked] of this.#tracked.entries()) {
      const line = this.config.lines[index];
      if (line === undefined || tracked.published === undefined || tracked.view === undefined) continue;
      this.emit('state', line, tracked.published, true);
      this.emit('config', tracked.view);
    }
    this.emit('availability', this.monitor.online);
  }

  /** Stops the line timers, then the monitor. Shared memory stays for the next run. */
  async close(): Promise<void> {
    if (this.monitor.closed) return;
    for (const tracked of this.#tracked) {
      if (tracked.debounce !== undefined) clearTimeout(tracked.debounce);
      if (tracked.pulse !== undefined) clearTimeout(tracked.pulse);
      tracked.wave?.stop();
    }
    await this.monitor.close();
  }
}
