/**
 * The mechanism half of a chip: it opens the shared-memory region and
 * its transport, guards the host-owned words, follows the guest's
 * availability, drains the event ring, diffs the banks and writes input
 * levels through the queue. It speaks electrical levels and line numbers
 * only and emits what shared memory says; what a level means (inversion,
 * toggles, pulses, debounce, payload words) is the line layer's (chip.ts).
 * Counts and timings are events too, for bridge/metrics to follow.
 * Shared memory is untrusted: a guest that scribbles over host-owned
 * words or the event ring gets a 'problem' event, nothing more.
 */
import { EventEmitter } from 'node:events';
import { protocol } from '../../native/index.ts';
import type { ChipConfig } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { GuestEventKind } from '../metrics/metrics.ts';
import { VgpioRegion } from '../shm/region.ts';
import { LineRegisters, type BankWords, type Level, type LineState } from '../shm/line-registers.ts';
import { InputDriver, type InputResult, type Settled, type Writing } from '../shm/input-driver.ts';
import { EventRingReader, type RingEvent } from '../shm/event-ring.ts';
import { HostWords } from './host-words.ts';
import { checkNotForeign, truncation, vanished } from './mapping.ts';
import { openTransport, type Transport } from './transport.ts';
import { everyPoll } from './poll-clock.ts';
import { guestAvailability, readEvidence } from './availability.ts';

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
  /** A guest rang the bridge, at `at` (process.hrtime.bigint()), before the scan it causes. */
  doorbell: [at: bigint];
  /** The bridge rang the guest. */
  'doorbell-rung': [];
  /** An input change raised the line's interrupt. */
  interrupt: [];
  'guest-event': [kind: GuestEventKind];
  /** The bridge rebuilt line state from the banks instead of the ring. */
  'ring-resync': [];
  'ring-invalid': [entries: number];
  'ring-dropped': [entries: number];
  'header-overwritten': [words: number];
  peers: [count: number];
  /** The number of changes waiting on a line changed. */
  queue: [line: number, depth: number];
  /** A scan finished: every change it found has been emitted. */
  scanned: [];
}

/** What the monitor remembers of a line to tell what changed. */
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
}

/** Direction and trigger bits of a line: what `.../config` says, as one number. */
function viewBits(state: LineState): number {
  const { irq } = state;
  return [state.isOutput, irq.enabled, irq.rising, irq.falling, irq.high, irq.low].reduce((bits, on, i) => bits | (on ? 1 << i : 0), 0);
}

/** Bank words that decide what is published (pend and ack_req bits do not). */
/**
 * The lines whose words differ between two reads of a bank, one bit per
 * line (what a line's state is made of: levels, direction, interrupt
 * configuration; not the pending bits).
 */
function changedLines(a: BankWords, b: BankWords): number {
  return ((a.in ^ b.in) | (a.out ^ b.out) | (a.dir ^ b.dir) | (a.irqEn ^ b.irqEn) | (a.irqRise ^ b.irqRise) | (a.irqFall ^ b.irqFall) | (a.irqHigh ^ b.irqHigh) | (a.irqLow ^ b.irqLow)) >>> 0;
}

/** Every line of a bank, for a bank not read before. */
const WHOLE_BANK = 0xffffffff;

const EVENT_KINDS = new Map<number, GuestEventKind>([
  [protocol.EV_OUTPUT, 'output'],
  [protocol.EV_DIRECTION, 'direction'],
  [protocol.EV_IRQ_CONFIG, 'irq_config'],
  [protocol.EV_INPUT_EDGE, 'input_edge'],
]);

export class ShmMonitor extends EventEmitter<MonitorEvents> {
  readonly config: ChipConfig;
  readonly region: VgpioRegion;
  readonly reattached: boolean;
  readonly #transport: Transport;
  readonly #lines: LineRegisters;
  readonly #inputs: InputDriver;
  readonly #ring: EventRingReader;
  readonly #log: Logger;
  readonly #hostWords: HostWords;
  readonly #seen: Seen[] = [];
  #online = false;
  /** Set once the shared memory can no longer be touched safely; the chip then stays offline. */
  #failure: string | undefined;
  /** A guest is overwriting host-owned words: reported once, until a check finds them intact again. */
  #tampering = false;
  #vanishReported = false;
  #guestGen: number;
  #peerCount = -1;
  #scanQueued = false;
  /** The guest was rung in this turn of the event loop; further interrupts set #ringAgain. */
  #ringTurn = false;
  #ringAgain = false;
  /** Changes written to `in` so far (write() diffs a line only when it wrote one). */
  #written = 0;
  /** Stops this chip's polls (poll-clock.ts: one timer for all chips of a period). */
  #stopPolling: (() => void) | undefined;
  #closed = false;
  readonly #queueDepths = new Map<number, number>();
  /** Each bank's words at the last scan: a scan looks at the lines of a bank only when they changed. */
  readonly #banks: (BankWords | undefined)[] = [];

  private constructor(config: ChipConfig, transport: Transport, log: Logger) {
    super();
    this.config = config;
    this.#transport = transport;
    this.#log = log;
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
        this.#written += 1;
        this.#hostWords.wroteInput(line, level);
        if (result === 'interrupt') this.emit('interrupt');
        this.#hostWrote(line, level);
      },
    });
    this.#ring = new EventRingReader(transport.mem, this.region.layout.ringOff, this.region.layout.ringLen, config.ngpio);
    this.#guestGen = this.region.guestGen;
  }

  /** Opens the chip's transport and region; emits nothing until start(). */
  static async open(config: ChipConfig, log: Logger): Promise<ShmMonitor> {
    const transport = await openTransport(config, log);
    try {
      return new ShmMonitor(config, transport, log);
    } catch (error) {
      await transport.close();
      throw error;
    }
  }

  /** Emits every line's current registers, then follows doorbells and the poll timer. */
  start(): void {
    const endpoint = this.#transport.endpoint;
    if (endpoint !== null) {
      endpoint.on('ring', () => {
        this.emit('doorbell', process.hrtime.bigint());
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
    for (const state of this.#lines.snapshot()) this.#seen.push({ in: state.input, out: state.output, isOutput: state.isOutput, viewBits: -1, enabled: undefined });
    this.#stopPolling = everyPoll(this.config.pollMs, () => {
      this.scan();
    });
    this.scan();
  }

  get online(): boolean {
    return this.#online;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Why the chip stopped (its shared memory cannot be touched safely), or undefined. */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** Peers on the chip's ivshmem server (server/client mode). */
  get peers(): number[] {
    return this.#transport.endpoint?.peers().map((p) => p.id) ?? [];
  }

  /** A line's registers now. */
  state(line: number): LineState {
    return this.#lines.state(line);
  }

  /** Whether the guest drives `line` now. */
  isOutput(line: number): boolean {
    return this.#lines.isOutput(line);
  }

  /** Changes waiting for `line`. */
  queued(line: number): number {
    return this.#inputs.queued(line);
  }

  /** The electrical level `line` will have once its queue drains. */
  latest(line: number): Level {
    return this.#inputs.latest(line);
  }

  /**
   * Writes `level` (electrical) to a host-driven line through its queue
   * and emits what that line shows: no scan, and a bank read only when `in`
   * moved (a change queued behind a pending interrupt, the common case in a
   * burst, changes nothing the guest can see yet). `settled` and `writing`:
   * see InputDriver.set.
   */
  write(line: number, level: Level, settled?: Settled, writing?: Writing): InputResult | 'closed' {
    if (this.#closed || !this.usable(false)) return 'closed';
    const before = this.#written;
    const result = this.#inputs.set(line, level, settled, writing);
    if (this.#written !== before) this.#diff(line, this.#lines.state(line));
    this.#trackQueue(line);
    return result;
  }

  /**
   * Rings the guest at once for the first interrupt raised in a turn of the
   * event loop, and once more at the end of that turn for all the others (a
   * socket read of many commands, a scan moving queues on): the guest's
   * handler reads every pending line of a bank at once, so one ring serves
   * them all, and an eventfd write is a system call. A lone command is
   * rung as soon as it is written, before its state and edge are published.
   */
  #ringGuest(): void {
    if (this.#ringTurn) {
      this.#ringAgain = true;
      return;
    }
    this.#ringNow();
    this.#ringTurn = true;
    setImmediate(() => {
      this.#ringTurn = false;
      if (!this.#ringAgain) return;
      this.#ringAgain = false;
      // Later than the command that asked for it: the guest peer is read from a mapping that must still be the file's.
      if (this.usable(false)) this.#ringNow();
    });
  }

  #ringNow(): void {
    const endpoint = this.#transport.endpoint;
    if (endpoint === null || !this.#online || this.#closed) return;
    const guest = this.region.guestPeer;
    try {
      endpoint.ring(guest, protocol.VECTOR_GUEST);
      this.emit('doorbell-rung');
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
   * time. `identity`: also check the label and names table and the file's
   * size (the poll timer does; a doorbell need not).
   */
  scan(identity = true): void {
    if (this.#closed || this.#seen.length === 0 || !this.usable(identity)) return;
    if (identity) this.#checkVanished();
    this.#guardHostWords(identity);
    this.checkAvailability();
    this.#inputs.acknowledged();
    const drained = this.#ring.drain();
    if (drained.corrupt) {
      this.emit('ring-resync');
      this.#problem('event ring head is further ahead than the ring holds; skipped to it and resynchronised from the banks');
    }
    if (drained.invalid > 0) {
      this.emit('ring-invalid', drained.invalid);
      this.#problem(`${drained.invalid} event-ring entr${drained.invalid === 1 ? 'y' : 'ies'} with an unknown line or kind ignored`);
    }
    if (drained.implausibleDrop > 0) {
      this.emit('ring-resync');
      this.#problem(`the event ring's dropped counter jumped by ${drained.implausibleDrop}, more than a guest can drop; not counted, resynchronised from the banks`);
    }
    if (drained.dropped > 0) {
      this.emit('ring-dropped', drained.dropped);
      this.emit('ring-resync');
      this.#log.warn(`the guest dropped ${drained.dropped} event-ring entries (ring full); resynchronised from the banks`);
    }
    if (drained.corrupt || drained.implausibleDrop > 0 || drained.dropped > 0) this.#forgetReportedEnables();
    for (const event of drained.events) this.#ringEvent(event);
    this.#diffBanks();
    this.#trackQueues();
    // A truncation between the size check and the reads above read zeros: stop at once rather than at the next scan.
    if (!this.usable(false)) return;
    this.emit('scanned');
  }

  #diffBanks(): void {
    for (let bank = 0; bank < this.#lines.banks; bank++) {
      const words = this.#lines.bank(bank);
      const before = this.#banks[bank];
      // Only the lines that changed: one guest output must not cost 32 line states and events.
      const changed = before === undefined ? WHOLE_BANK : changedLines(before, words);
      if (changed === 0) continue;
      this.#banks[bank] = words;
      const first = bank * protocol.BANK_LINES;
      const last = Math.min(this.config.ngpio, first + protocol.BANK_LINES);
      for (let line = first; line < last; line++) {
        if (((changed >>> (line - first)) & 1) !== 0) this.#diff(line, LineRegisters.lineFromBank(words, line));
      }
    }
  }

  #trackQueues(): void {
    for (const index of new Set([...this.#queueDepths.keys(), ...this.#inputs.queuedLines])) this.#trackQueue(index);
  }

  #trackQueue(index: number): void {
    const depth = this.#inputs.queued(index);
    if ((this.#queueDepths.get(index) ?? 0) === depth) return;
    if (depth === 0) this.#queueDepths.delete(index);
    else this.#queueDepths.set(index, depth);
    this.emit('queue', index, depth);
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
    this.emit('header-overwritten', restored.length);
    if (this.#tampering) return;
    this.#tampering = true;
    this.#problem(`host-owned words were overwritten by the guest (${restored.join(', ')}); restored (reported once until they stay intact)`);
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
    const mem = this.#transport.mem;
    // Closed under us (the transport is going away): nothing to touch, nothing to report.
    if (mem.closed) return false;
    // Past the end of every truncated file but one cut inside the last page: reading it first has the fault guard
    // count a truncation before the caller reads anything that would mean something.
    mem.load32(mem.size - 4);
    if (mem.faults() === 0 && !checkSize) return true;
    const problem = truncation(mem) ?? (mem.faults() === 0 ? undefined : 'an access met a page of the shared-memory file that is gone (the file was truncated under the mapping)');
    if (problem === undefined) return true;
    this.#failure = `${problem}; the chip is stopped (restart the bridge once the file is sound)`;
    this.#log.error(this.#failure);
    this.emit('problem', this.#failure);
    this.#stopPolling?.();
    // Nothing queued will be written now: whoever waits for those changes hears so.
    this.#inputs.abandon();
    if (this.#online) {
      this.#online = false;
      this.emit('availability', false);
    }
    return false;
  }

  /** Re-reads whether a guest is online; a command calls it so a guest that just bound (or left) counts before the poll timer sees it. */
  checkAvailability(): void {
    const endpoint = this.#transport.endpoint;
    const peers = endpoint?.peers() ?? [];
    const evidence = readEvidence(this.#transport.mem, endpoint === null ? null : peers.map((p) => p.id));
    // Zeros read from a page a truncation took away are not a guest that left: the chip fails instead.
    if (!this.usable(false)) return;
    const availability = guestAvailability(evidence);
    const { guestGen: gen, guestPeer: peer } = evidence;
    const online = availability.online;
    const rebound = gen !== this.#guestGen;
    if (peers.length !== this.#peerCount) {
      this.#peerCount = peers.length;
      this.emit('peers', peers.length);
    }
    this.#guestGen = gen;
    if (online === this.#online && !rebound) return;
    if (!online || rebound) {
      // A new or departed driver restarts its view from `in`: queued changes are void.
      this.#inputs.clear();
      this.#forgetReportedEnables();
    }
    if (online !== this.#online) {
      this.#online = online;
      this.#log.info(availability.online ? `guest online (peer ${endpoint === null ? 'none, polling' : peer}, driver generation ${gen})` : `guest offline (driver generation ${gen}: ${availability.why})`);
      this.emit('availability', online);
    }
  }

  #ringEvent(event: RingEvent): void {
    const seen = this.#seen[event.line];
    if (seen === undefined || event.line >= this.config.lines.length) return;
    const kind = EVENT_KINDS.get(event.kind);
    if (kind !== undefined) this.emit('guest-event', kind);
    if (event.kind === protocol.EV_OUTPUT) {
      const level: Level = event.value === 0 ? 0 : 1;
      if (level !== seen.out) {
        seen.out = level;
        this.emit('output', event.line, level, event.seq, Number(event.guestNs));
      }
    } else if (event.kind === protocol.EV_INPUT_EDGE) {
      this.emit('input-received', event.line, event.value === 0 ? 0 : 1, Number(event.guestNs));
    } else if (event.kind === protocol.EV_IRQ_CONFIG) {
      seen.enabled = (event.value & protocol.IRQ_ENABLED) !== 0;
      // Diff the line's bank again even if its words look as before: they may already hold the change.
      this.#banks[Math.floor(event.line / protocol.BANK_LINES)] = undefined;
    }
  }

  /**
   * One event per change the input driver writes to `in`. Diffing `in` at
   * scan time is not enough: a queue can move on more than once between
   * two scans (a guest acking fast, or changes without an interrupt), and
   * the guest sees every one of them. The one place a host edge is found.
   */
  #hostWrote(index: number, electrical: Level): void {
    const seen = this.#seen[index];
    if (seen === undefined || index >= this.config.lines.length || electrical === seen.in) return;
    seen.in = electrical;
    if (!seen.isOutput) this.emit('input-written', index, electrical);
  }

  /** The bank's irq_en is the truth again until the guest's driver reports. */
  #forgetReportedEnables(): void {
    for (const seen of this.#seen) seen.enabled = undefined;
    // The banks' words are the truth again: diff every line at the next scan, not only those whose words change.
    this.#banks.length = 0;
  }

  #diff(index: number, bankState: LineState): void {
    const seen = this.#seen[index];
    if (seen === undefined || index >= this.config.lines.length) return;
    const state = seen.enabled === undefined || seen.enabled === bankState.irq.enabled ? bankState : { ...bankState, irq: { ...bankState.irq, enabled: seen.enabled } };
    // Host edges come from #hostWrote alone: only the host writes `in` (the guard restores a guest's scribble first).
    seen.in = state.input;
    if (state.output !== seen.out) {
      seen.out = state.output;
      // A change the ring did not report (ring full, corrupt, or not yet appended).
      if (state.isOutput) this.emit('output', index, state.output, undefined, undefined);
    }
    const bits = viewBits(state);
    if (bits !== seen.viewBits) {
      seen.viewBits = bits;
      this.emit('config', index, state);
    }
    seen.isOutput = state.isOutput;
    this.emit('level', index, state);
  }

  /** Stops the poll timer and doorbells, voids the queues and leaves or closes the transport (a server-mode chip's ivshmem server stays for its guests). Shared memory stays for the next run. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopPolling?.();
    // Clearing the queues writes ack_req bits: not into a truncated file.
    if (this.#failure === undefined) this.#inputs.clear();
    else this.#inputs.abandon();
    await this.#transport.close();
  }
}
