/**
 * One virtual GPIO chip on the host: its shared-memory region, its
 * doorbells (or poll timer) and the input queue. It knows nothing about
 * MQTT: it applies commands and emits what shared memory says (line
 * states, edges, line configuration, guest availability). Everything it
 * reports is read back from shared memory, never what it assumed it wrote.
 * Shared memory is untrusted: a guest that scribbles over host-owned
 * header words or the event ring gets a 'problem' event, nothing more.
 */
import { EventEmitter } from 'node:events';
import { protocol } from '../../native/index.ts';
import type { ChipConfig, LineConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { CommandResult, GuestEventKind, RejectReason, Stats } from '../stats.ts';
import { VgpioRegion } from '../shm/region.ts';
import { LineRegisters, type BankWords, type IrqConfig, type Level, type LineState } from '../shm/line-registers.ts';
import { InputDriver, type InputResult } from '../shm/input-driver.ts';
import { EventRingReader, type RingEvent } from '../shm/event-ring.ts';
import { logical, type LineCommand } from '../payload.ts';
import { HostWords } from './host-words.ts';
import { checkNotForeign, truncation, vanished } from './mapping.ts';
import { openTransport, type Transport } from './transport.ts';
import { guestAvailability, readEvidence } from './availability.ts';

export type EdgeSource = 'host' | 'guest';

export interface EdgeEvent {
  line: LineConfig;
  /** In published (logical) terms: an inverted line's electrical rise is a falling edge. */
  edge: 'rising' | 'falling';
  source: EdgeSource;
  /** The guest's ring sequence number for guest edges seen in the ring, the chip's own count otherwise. */
  seq: number;
  /** Host wall clock, milliseconds since the epoch. */
  ts: number;
  /** Guest monotonic clock of the change, when the guest reported it through the ring. */
  guestNs?: number;
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
  state: [line: LineConfig, level: Level];
  edge: [edge: EdgeEvent];
  config: [view: LineView];
  availability: [online: boolean];
  /** Something in shared memory or from a peer made no sense; already logged and counted. */
  problem: [message: string];
}

export type CommandOutcome = { ok: true; result: CommandResult } | { ok: false; error: string; reason: RejectReason };

interface Tracked {
  in: Level;
  out: Level;
  isOutput: boolean;
  /** Last level published (logical), undefined before the first publication. */
  published: Level | undefined;
  /** Last level seen while a debounce timer runs. */
  seen: Level;
  debounce: NodeJS.Timeout | undefined;
  pulse: NodeJS.Timeout | undefined;
  /** The guest's view as last published, and its bits (direction and trigger) to compare without building it. */
  view: LineView | undefined;
  viewBits: number;
}

/** Direction and trigger bits of a line: what `.../config` says, as one number. */
function viewBits(state: LineState): number {
  const { irq } = state;
  return [state.isOutput, irq.enabled, irq.rising, irq.falling, irq.high, irq.low].reduce((bits, on, i) => bits | (on ? 1 << i : 0), 0);
}

/** Bank words that decide what is published (pend and ack_req bits do not). */
function sameBank(a: BankWords, b: BankWords): boolean {
  return a.in === b.in && a.out === b.out && a.dir === b.dir && a.irqEn === b.irqEn && a.irqRise === b.irqRise && a.irqFall === b.irqFall && a.irqHigh === b.irqHigh && a.irqLow === b.irqLow;
}

const EVENT_KINDS = new Map<number, GuestEventKind>([
  [protocol.EV_OUTPUT, 'output'],
  [protocol.EV_DIRECTION, 'direction'],
  [protocol.EV_IRQ_CONFIG, 'irq_config'],
  [protocol.EV_INPUT_EDGE, 'input_edge'],
]);

export class Chip extends EventEmitter<ChipEvents> {
  readonly config: ChipConfig;
  readonly region: VgpioRegion;
  readonly reattached: boolean;
  readonly #transport: Transport;
  readonly #lines: LineRegisters;
  readonly #inputs: InputDriver;
  readonly #ring: EventRingReader;
  readonly #log: Logger;
  readonly #stats: Stats;
  readonly #hostWords: HostWords;
  readonly #tracked: Tracked[] = [];
  readonly #byName = new Map<string, LineConfig>();
  #online = false;
  /** Set once the shared memory can no longer be touched safely; the chip then stays offline. */
  #failure: string | undefined;
  /** A guest is overwriting host-owned words: reported once, until a check finds them intact again. */
  #tampering = false;
  #vanishReported = false;
  #guestGen: number;
  #peerCount = -1;
  #hostSeq = 0;
  #scanQueued = false;
  #poll: NodeJS.Timeout | undefined;
  #closed = false;
  /** When the first doorbell since the last publication rang (for doorbell-to-publish latency). */
  #rangAt: bigint | undefined;
  #published = false;
  readonly #queueDepths = new Map<number, number>();
  /** Each bank's words at the last scan: a scan looks at the lines of a bank only when they changed. */
  readonly #banks: (BankWords | undefined)[] = [];

  private constructor(config: ChipConfig, transport: Transport, log: Logger, stats: Stats) {
    super();
    this.config = config;
    this.#transport = transport;
    this.#log = log;
    this.#stats = stats;
    checkNotForeign(transport.mem, `chip ${config.name}: shared memory ${transport.mem.path ?? 'from the ivshmem server'}`);
    const opened = VgpioRegion.open(transport.mem, {
      ngpio: config.ngpio,
      label: config.label,
      names: config.lines.map((l) => (l.configured ? l.name : undefined)),
      doorbell: config.mode !== 'plain',
      hostPeer: transport.hostPeer,
      ringLen: config.ringLen,
    });
    this.region = opened.region;
    this.reattached = opened.reattached;
    this.#hostWords = new HostWords(this.region, transport.hostPeer);
    this.#lines = new LineRegisters(transport.mem, this.region.layout.bankOff, config.ngpio);
    this.#inputs = new InputDriver(this.#lines, {
      queueLimit: config.queueLimit,
      ringGuest: () => {
        this.#ringGuest();
      },
      onApplied: (line, level, result) => {
        this.#hostWords.wroteInput(line, level);
        if (result === 'interrupt') this.#stats.interruptRaised(this.config.name);
        this.#hostWrote(line, level);
      },
    });
    this.#ring = new EventRingReader(transport.mem, this.region.layout.ringOff, this.region.layout.ringLen, config.ngpio);
    this.#guestGen = this.region.guestGen;
    for (const line of config.lines) {
      this.#byName.set(line.name, line);
    }
  }

  /** Opens the chip's transport and region; emits nothing until start(). */
  static async open(config: ChipConfig, log: Logger, stats: Stats): Promise<Chip> {
    const transport = await openTransport(config, log);
    try {
      return new Chip(config, transport, log, stats);
    } catch (error) {
      await transport.close();
      throw error;
    }
  }

  /** Emits every line's current state and configuration, then follows doorbells and the poll timer. */
  start(): void {
    const endpoint = this.#transport.endpoint;
    if (endpoint !== null) {
      endpoint.on('ring', () => {
        this.#stats.doorbellReceived(this.config.name);
        this.#rangAt ??= process.hrtime.bigint();
        this.#scheduleScan();
      });
      endpoint.on('join', (peer) => {
        this.#log.info(`ivshmem peer ${peer.id} joined with ${peer.vectors} vector(s)`);
        this.#scheduleScan();
      });
      endpoint.on('leave', (id) => {
        this.#log.info(`ivshmem peer ${id} left`);
        this.#scheduleScan();
      });
      endpoint.on('error', (error) => {
        this.#problem(`ivshmem: ${error.message}`);
        // A lost server connection leaves no peers: the guest is offline.
        this.#scheduleScan();
      });
    }
    this.#ring.drain(); // entries from before this run describe a past the banks already show
    for (const state of this.#lines.snapshot()) {
      this.#tracked.push({
        in: state.input,
        out: state.output,
        isOutput: state.isOutput,
        published: undefined,
        seen: state.level,
        debounce: undefined,
        pulse: undefined,
        view: undefined,
        viewBits: -1,
      });
    }
    this.#stats.declareChip(this.config.name, this.config.lines.filter((l) => l.configured).map((l) => l.name));
    this.#poll = setInterval(() => {
      this.scan();
    }, this.config.pollMs);
    this.scan();
  }

  get online(): boolean {
    return this.#online;
  }

  /** Why the chip stopped (its shared memory cannot be touched safely), or undefined. */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** Peers on the chip's ivshmem server (server/client mode). */
  get peers(): number[] {
    return this.#transport.endpoint?.peers().map((p) => p.id) ?? [];
  }

  /** Looks a line up by its topic name or its number. */
  line(nameOrNumber: string): LineConfig | undefined {
    const byName = this.#byName.get(nameOrNumber);
    if (byName !== undefined) return byName;
    return /^\d+$/.test(nameOrNumber) ? this.config.lines[Number(nameOrNumber)] : undefined;
  }

  /** A line's state as shared memory has it now (not for a failed chip: see `failure`). */
  status(line: LineConfig): LineStatus {
    const state = this.#lines.state(line.line);
    const level = logical(state.level, line);
    return {
      ...this.#view(line, state),
      level,
      state: level === 1 ? line.payloadOn : line.payloadOff,
      pending: state.pending,
      queued: this.#inputs.queued(line.line),
    };
  }

  /**
   * Applies a command to a host-driven line: checked, then written through
   * the input queue. It resolves against the line's latest requested level
   * (the last change still queued, else `in`), so N toggles are N changes
   * and a command equal to that level is `unchanged` and queues nothing.
   * Changes already queued stay; a new one is appended. The work is O(1) in
   * the chip's size: one bank and two header words are read, no scan.
   */
  command(line: LineConfig, command: LineCommand): CommandOutcome {
    const started = process.hrtime.bigint();
    const refuse = (reason: RejectReason, error: string): CommandOutcome => ({ ok: false, reason, error });
    if (this.#closed) return refuse('chip_offline', `chip ${this.config.name} is shutting down`);
    if (!this.#usable()) return refuse('chip_offline', `chip ${this.config.name} failed: ${this.#failure ?? ''}`);
    if (line.direction === 'output') {
      return refuse('not_host_driven', `line ${line.name} of chip ${this.config.name} is configured as an output the guest drives; it cannot be set`);
    }
    if (this.#lines.state(line.line).isOutput) {
      return refuse('not_host_driven', `line ${line.name} of chip ${this.config.name} is an output in the guest (the guest drives it); it cannot be set`);
    }
    // A guest that just bound (or left) counts before the poll timer sees it.
    this.#checkAvailability();
    if (!this.#online) return refuse('chip_offline', `chip ${this.config.name} has no guest with a bound driver; command not applied`);

    const latest = logical(this.#inputs.latest(line.line), line);
    const target: Level = command.target.kind === 'toggle' ? (latest === 1 ? 0 : 1) : command.target.level;
    const tracked = this.#tracked[line.line];
    if (tracked?.pulse !== undefined) {
      // A new command replaces a pulse's pending return; what is queued stays.
      clearTimeout(tracked.pulse);
      tracked.pulse = undefined;
    }
    const result = this.#request(line, target);
    if (result === 'closed') return refuse('chip_offline', `chip ${this.config.name} is shutting down`);
    if (result === 'overflow') {
      this.#stats.queueOverflow(this.config.name, line.name);
      return refuse('queue_overflow', `line ${line.name} of chip ${this.config.name} has ${this.config.queueLimit} changes waiting for the guest; change refused`);
    }
    if (command.pulseMs !== null && tracked !== undefined && result !== 'unchanged') {
      const back: Level = target === 1 ? 0 : 1;
      tracked.pulse = setTimeout(() => {
        tracked.pulse = undefined;
        // The pulse ends even if the guest left meanwhile: a button is never left pressed.
        if (this.#request(line, back) === 'overflow') this.#problem(`line ${line.name}: the end of a pulse was refused, the queue is full`);
      }, command.pulseMs);
    }
    if (result === 'interrupt') this.#stats.commandToDoorbell(this.config.name, Number(process.hrtime.bigint() - started) / 1e9);
    this.#stats.commandApplied(this.config.name, result);
    return { ok: true, result };
  }

  /** Asks for `level` (logical) on `line` unless it is already the latest requested level, then publishes what that line shows. */
  #request(line: LineConfig, level: Level): InputResult | 'closed' {
    if (this.#closed || !this.#usable()) return 'closed';
    if (logical(this.#inputs.latest(line.line), line) === level) return 'unchanged';
    const result = this.#inputs.set(line.line, logical(level, line));
    this.#log.debug(`line ${line.name} <- ${level === 1 ? line.payloadOn : line.payloadOff}: ${result}`);
    this.#diff(line.line, this.#lines.state(line.line));
    this.#trackQueue(line.line);
    return result;
  }

  #ringGuest(): void {
    const endpoint = this.#transport.endpoint;
    if (endpoint === null || !this.#online) return;
    const guest = this.region.guestPeer;
    try {
      endpoint.ring(guest, protocol.VECTOR_GUEST);
      this.#stats.doorbellRung(this.config.name);
    } catch (error) {
      // The guest left between the availability check and the ring: it rescans when it comes back.
      this.#log.debug(`cannot ring guest peer ${guest}: ${(error as Error).message}`);
    }
  }

  #scheduleScan(): void {
    if (this.#scanQueued || this.#closed) return;
    // Rings coalesce: however many arrive before the next turn of the event loop, one scan answers them.
    this.#scanQueued = true;
    setImmediate(() => {
      this.#scanQueued = false;
      this.scan(false);
    });
  }

  #problem(message: string): void {
    this.#log.warn(message);
    this.emit('problem', message);
  }

  /**
   * Re-reads shared memory and emits what changed. Safe to call at any
   * time. `identity`: also check the label and names table (the poll timer
   * does; a doorbell need not).
   */
  scan(identity = true): void {
    if (this.#closed || this.#tracked.length === 0 || !this.#usable()) return;
    if (identity) this.#checkVanished();
    this.#guardHostWords(identity);
    this.#checkAvailability();
    this.#inputs.acknowledged();
    const drained = this.#ring.drain();
    if (drained.corrupt) {
      this.#stats.ringResync(this.config.name);
      this.#problem('event ring head is further ahead than the ring holds; skipped to it and resynchronised from the banks');
    }
    if (drained.invalid > 0) {
      this.#stats.ringInvalid(this.config.name, drained.invalid);
      this.#problem(`${drained.invalid} event-ring entr${drained.invalid === 1 ? 'y' : 'ies'} with an unknown line or kind ignored`);
    }
    if (drained.implausibleDrop > 0) {
      this.#stats.ringResync(this.config.name);
      this.#problem(`the event ring's dropped counter jumped by ${drained.implausibleDrop}, more than a guest can drop; not counted, resynchronised from the banks`);
    }
    if (drained.dropped > 0) {
      this.#stats.ringDropped(this.config.name, drained.dropped);
      this.#stats.ringResync(this.config.name);
      this.#log.warn(`the guest dropped ${drained.dropped} event-ring entries (ring full); resynchronised from the banks`);
    }
    for (const event of drained.events) this.#ringEvent(event);
    this.#diffBanks();
    this.#trackQueues();
    if (this.#published && this.#rangAt !== undefined) {
      this.#stats.doorbellToPublish(this.config.name, Number(process.hrtime.bigint() - this.#rangAt) / 1e9);
      this.#rangAt = undefined;
    }
    this.#published = false;
  }

  #diffBanks(): void {
    for (let bank = 0; bank < this.#lines.banks; bank++) {
      const words = this.#lines.bank(bank);
      const before = this.#banks[bank];
      if (before !== undefined && sameBank(before, words)) continue;
      this.#banks[bank] = words;
      const last = Math.min(this.config.ngpio, (bank + 1) * protocol.BANK_LINES);
      for (let line = bank * protocol.BANK_LINES; line < last; line++) this.#diff(line, LineRegisters.lineFromBank(words, line));
    }
  }

  #trackQueues(): void {
    for (const index of new Set([...this.#queueDepths.keys(), ...this.#inputs.queuedLines])) this.#trackQueue(index);
  }

  #trackQueue(index: number): void {
    const depth = this.#inputs.queued(index);
    const line = this.config.lines[index];
    if (line === undefined || (this.#queueDepths.get(index) ?? 0) === depth) return;
    if (depth === 0) this.#queueDepths.delete(index);
    else this.#queueDepths.set(index, depth);
    if (line.configured) this.#stats.queueDepth(this.config.name, line.name, depth);
  }

  /** A removed or replaced file does not hurt the mapping, but a guest started now would not share it. */
  #checkVanished(): void {
    const mem = this.#transport.mem;
    if (this.#vanishReported || !vanished(mem)) return;
    this.#vanishReported = true;
    this.#problem(`the shared-memory file ${mem.path ?? ''} was removed or replaced; this chip keeps the region it has mapped, but a guest started now would not see it`);
  }

  #guardHostWords(identity: boolean): void {
    const restored = this.#hostWords.restore(identity);
    if (restored.length === 0) {
      this.#tampering = false;
      return;
    }
    this.#stats.headerOverwritten(this.config.name, restored.length);
    if (this.#tampering) return;
    this.#tampering = true;
    this.#problem(`host-owned words were overwritten by the guest (${restored.join(', ')}); restored (reported once until they stay intact)`);
  }

  /** False once the mapping is unsafe (the file was truncated): the chip then fails, logged once, instead of the process dying of SIGBUS. */
  #usable(): boolean {
    if (this.#failure !== undefined) return false;
    const problem = truncation(this.#transport.mem);
    if (problem === undefined) return true;
    this.#failure = `${problem}; the chip is stopped (restart the bridge once the file is sound)`;
    this.#log.error(this.#failure);
    this.emit('problem', this.#failure);
    if (this.#poll !== undefined) clearInterval(this.#poll);
    if (this.#online) {
      this.#online = false;
      this.#stats.guestBound(this.config.name, false);
      this.emit('availability', false);
    }
    return false;
  }

  #checkAvailability(): void {
    const endpoint = this.#transport.endpoint;
    const peers = endpoint?.peers() ?? [];
    const evidence = readEvidence(this.#transport.mem, endpoint === null ? null : peers.map((p) => p.id));
    const availability = guestAvailability(evidence);
    const { guestGen: gen, guestPeer: peer } = evidence;
    const online = availability.online;
    const rebound = gen !== this.#guestGen;
    if (peers.length !== this.#peerCount) {
      this.#peerCount = peers.length;
      this.#stats.guestPeers(this.config.name, peers.length);
    }
    this.#guestGen = gen;
    if (online === this.#online && !rebound) return;
    if (!online || rebound) {
      // A new or departed driver restarts its view from `in`: queued changes are void.
      this.#inputs.clear();
    }
    if (online !== this.#online) {
      this.#online = online;
      this.#stats.guestBound(this.config.name, online);
      this.#log.info(availability.online ? `guest online (peer ${endpoint === null ? 'none, polling' : peer}, driver generation ${gen})` : `guest offline (driver generation ${gen}: ${availability.why})`);
      this.emit('availability', online);
    }
  }

  #ringEvent(event: RingEvent): void {
    const tracked = this.#tracked[event.line];
    const line = this.config.lines[event.line];
    if (tracked === undefined || line === undefined) return;
    const kind = EVENT_KINDS.get(event.kind);
    if (kind !== undefined) this.#stats.guestEvent(this.config.name, kind);
    if (event.kind === protocol.EV_OUTPUT) {
      const level: Level = event.value === 0 ? 0 : 1;
      if (level !== tracked.out) {
        tracked.out = level;
        this.#edge(line, level, 'guest', event.seq, Number(event.guestNs));
      }
    } else if (event.kind === protocol.EV_INPUT_EDGE) {
      this.#log.debug(`line ${line.name}: the guest consumed an input edge (level ${event.value})`);
    }
  }

  #edge(line: LineConfig, electrical: Level, source: EdgeSource, seq: number | undefined, guestNs?: number): void {
    this.#hostSeq = (this.#hostSeq + 1) >>> 0;
    const level = logical(electrical, line);
    this.#stats.edgePublished(this.config.name, source);
    this.#published = true;
    this.emit('edge', {
      line,
      edge: level === 1 ? 'rising' : 'falling',
      source,
      seq: seq ?? this.#hostSeq,
      ts: Date.now(),
      ...(guestNs === undefined ? {} : { guestNs }),
    });
  }

  /**
   * One edge per change the input driver writes to `in`. Diffing `in` at
   * scan time is not enough: a queue can move on more than once between
   * two scans (a guest acking fast, or changes without an interrupt), and
   * the guest sees every one of them.
   */
  #hostWrote(index: number, electrical: Level): void {
    const tracked = this.#tracked[index];
    const line = this.config.lines[index];
    if (tracked === undefined || line === undefined || electrical === tracked.in) return;
    tracked.in = electrical;
    if (!tracked.isOutput) this.#edge(line, electrical, 'host', undefined);
  }

  #view(line: LineConfig, state: LineState): LineView {
    return { line: line.line, name: line.name, direction: state.isOutput ? 'output' : 'input', expected: line.direction, irq: state.irq };
  }

  #diff(index: number, state: LineState): void {
    const tracked = this.#tracked[index];
    const line = this.config.lines[index];
    if (tracked === undefined || line === undefined) return;
    // Host edges come from #hostWrote alone: only the host writes `in` (the guard restores a guest's scribble first).
    tracked.in = state.input;
    if (state.output !== tracked.out) {
      tracked.out = state.output;
      // A change the ring did not report (ring full, corrupt, or not yet appended).
      if (state.isOutput) this.#edge(line, state.output, 'guest', undefined);
    }
    const bits = viewBits(state);
    if (bits !== tracked.viewBits) {
      tracked.viewBits = bits;
      tracked.view = this.#view(line, state);
      this.emit('config', tracked.view);
    }
    tracked.isOutput = state.isOutput;
    this.#publishLevel(line, tracked, logical(state.level, line), state.isOutput);
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
    this.#published = true;
    if (line.configured) this.#stats.lineLevel(this.config.name, line.name, level);
    this.emit('state', line, level);
  }

  /** Current state of every line, for republishing (e.g. after an MQTT reconnect). */
  republish(): void {
    for (const [index, tracked] of this.#tracked.entries()) {
      const line = this.config.lines[index];
      if (line === undefined || tracked.published === undefined || tracked.view === undefined) continue;
      this.emit('state', line, tracked.published);
      this.emit('config', tracked.view);
    }
    this.emit('availability', this.#online);
  }

  /** Stops timers and doorbells and leaves or closes the transport (a server-mode chip's ivshmem server stays for its guests). Shared memory stays for the next run. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#poll !== undefined) clearInterval(this.#poll);
    for (const tracked of this.#tracked) {
      if (tracked.debounce !== undefined) clearTimeout(tracked.debounce);
      if (tracked.pulse !== undefined) clearTimeout(tracked.pulse);
    }
    // Clearing the queues writes ack_req bits: not into a truncated file.
    if (this.#failure === undefined) this.#inputs.clear();
    await this.#transport.close();
  }
}
