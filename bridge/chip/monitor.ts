/**
 * The mechanism half of a chip: it opens the shared-memory region and
 * its transport, follows the guest's availability, runs the scan (region
 * guard, event ring, bank differ: region-guard.ts, ring-events.ts,
 * bank-differ.ts) and writes input levels through the queue, sending
 * doorbells (doorbell.ts). It speaks electrical levels and line numbers
 * only and emits what shared memory says; what a level means (inversion,
 * toggles, pulses, debounce, payload words) is the line layer's (chip.ts).
 * Counts and timings are events too, for bridge/metrics to follow.
 * Shared memory is untrusted: a guest that scribbles over host-owned
 * words or the event ring gets a 'problem' event, nothing more.
 */
import { EventEmitter } from 'node:events';
import type { ChipConfig } from '../settings/types.ts';
import type { Logger } from '../log.ts';
import type { ChipMetrics } from '../metrics/events.ts';
import { VgpioRegion } from '../shm/region.ts';
import { LineRegisters, type Level, type LineState } from '../shm/line-registers.ts';
import { InputDriver } from '../shm/input-driver.ts';
import { EventRingReader } from '../shm/event-ring.ts';
import { checkNotForeign } from './mapping.ts';
import { openTransport, type Transport } from './transport.ts';
import { everyPoll } from './poll-clock.ts';
import { guestAvailability, readEvidence, type GuestEvidence } from './availability.ts';
import { BankDiffer } from './bank-differ.ts';
import { Doorbell } from './doorbell.ts';
import type { Answer, MonitorEvents, Request } from './monitor-events.ts';
import { RegionGuard } from './region-guard.ts';
import { followRing } from './ring-events.ts';

export type { Answer, MonitorEvents, Request } from './monitor-events.ts';

export class ShmMonitor extends EventEmitter<MonitorEvents> {
  readonly config: ChipConfig;
  readonly region: VgpioRegion;
  readonly reattached: boolean;
  /** What only metrics want to know (bridge/metrics/events.ts); the line layer emits there too. */
  readonly metrics: ChipMetrics = new EventEmitter();
  readonly #transport: Transport;
  readonly #lines: LineRegisters;
  readonly #inputs: InputDriver;
  readonly #ring: EventRingReader;
  readonly #log: Logger;
  readonly #guard: RegionGuard;
  readonly #differ: BankDiffer;
  readonly #doorbell: Doorbell;
  #online = false;
  #guestGen: number;
  #peerCount = -1;
  #scanQueued = false;
  /** Changes written to `in` so far (request() diffs a line only when it wrote one). */
  #written = 0;
  /** Stops this chip's polls (poll-clock.ts: one timer for all chips of a period). */
  #stopPolling: (() => void) | undefined;
  #closed = false;
  readonly #queueDepths = new Map<number, number>();

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
    const problem = this.#problem;
    this.#guard = new RegionGuard(transport.mem, this.region, transport.hostPeer, {
      events: this,
      metrics: this.metrics,
      log,
      problem,
      failed: () => {
        this.#failed();
      },
    });
    this.#lines = new LineRegisters(transport.mem, this.region.layout.bankOff, config.ngpio);
    this.#differ = new BankDiffer(this.#lines, config.lines.length, this);
    this.#doorbell = new Doorbell(transport.endpoint, {
      metrics: this.metrics,
      log,
      problem,
      canSend: () => this.#online && !this.#closed,
      guestPeer: () => this.region.guestPeer,
      usable: () => this.#guard.usable(false),
    });
    this.#inputs = new InputDriver(this.#lines, {
      queueLimit: config.queueLimit,
      doorbell: () => {
        this.#doorbell.send();
      },
      onApplied: (line, level, result) => {
        this.#written += 1;
        this.#guard.wroteInput(line, level);
        if (result === 'interrupt') this.metrics.emit('interrupt');
        this.#differ.hostWrote(line, level);
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
    const scanSoon = (): void => {
      this.#scheduleScan();
    };
    this.#doorbell.listen(scanSoon, scanSoon);
    this.#ring.drain(); // entries from before this run describe a past the banks already show
    this.#differ.start();
    this.#stopPolling = everyPoll(this.config.pollMs, () => {
      if (!this.#alone()) this.scan();
    });
    this.scan();
  }

  /**
   * Nothing to poll for: the chip has an ivshmem server and no peer but the
   * bridge is connected, so no guest maps the region, and the peer that
   * joins is scanned at once (its join, then its doorbells). Without this,
   * an idle bridge of 256 chips read every chip's region every poll_ms.
   */
  #alone(): boolean {
    const endpoint = this.#transport.endpoint;
    return endpoint !== null && !this.#online && this.#inputs.queuedLines.length === 0 && endpoint.peers().length === 0;
  }

  get online(): boolean {
    return this.#online;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Why the chip stopped (its shared memory cannot be touched safely), or undefined. */
  get failure(): string | undefined {
    return this.#guard.failure;
  }

  /** Peers on the chip's ivshmem server (server/client mode). */
  get peers(): number[] {
    return this.#transport.endpoint?.peers().map((p) => p.id) ?? [];
  }

  /** A line's registers now. */
  state(line: number): LineState {
    return this.#lines.state(line);
  }

  /** Changes waiting for `line`. */
  queued(line: number): number {
    return this.#inputs.queued(line);
  }

  /** Whether `line`'s `in` holds `level` (electrical) now; false when shared memory cannot be read. */
  inputIs(line: number, level: Level): boolean {
    return this.#guard.usable(false) && this.#lines.input(line) === level;
  }

  /**
   * The one entry into shared memory for a change to a host-driven line:
   * checks (chip closed, memory usable, the guest not driving the line, a
   * guest online: see Request.checks), then writes the level through the
   * line's queue and emits what the line shows: no scan, and a bank read
   * only when `in` moved (a change queued behind a pending interrupt, the
   * common case in a burst, changes nothing the guest can see yet). The
   * memory is asked whether it is usable before any access, after the
   * reads the checks make and after the write (see RegionGuard.usable).
   */
  request(request: Request): Answer {
    if (this.#closed) return { ok: false, refused: 'closed' };
    if (!this.#guard.usable(false)) return { ok: false, refused: 'failed' };
    const { line, checks } = request;
    const guestDrives = checks !== 'none' && this.#lines.isOutput(line);
    const evidence = checks === 'command' ? this.#readEvidence() : undefined;
    // Zeros read from a page a truncation took away are not a guest output or a guest that left: the chip fails instead.
    if (!this.#guard.usable(false)) return { ok: false, refused: 'failed' };
    if (guestDrives) return { ok: false, refused: 'guest_output' };
    if (evidence !== undefined) {
      this.#followAvailability(evidence);
      if (!this.#online) return { ok: false, refused: 'offline' };
    }
    request.accepted?.();
    const latest = this.#inputs.latest(line);
    const level = request.level(latest);
    const before = this.#written;
    const result = level === latest ? 'unchanged' : this.#inputs.set(line, level, request.settled, request.writing);
    if (this.#written !== before) this.#differ.diffLine(line, this.#lines.state(line));
    this.#trackQueue(line);
    // The accesses above met a page a truncation took away: nothing reached the guest.
    if (!this.#guard.usable(false)) return { ok: false, refused: 'failed' };
    if (result === 'overflow') return { ok: false, refused: 'overflow' };
    return { ok: true, result };
  }

  #scheduleScan(): void {
    if (this.#scanQueued || this.#closed) return;
    // Doorbells coalesce: however many arrive before the next turn of the event loop, one scan answers them.
    this.#scanQueued = true;
    setImmediate(() => {
      this.#scanQueued = false;
      this.scan(false);
    });
  }

  /** Logs and emits a problem (a property: the parts call it). */
  readonly #problem = (message: string): void => {
    this.#log.warn(message);
    this.emit('problem', message);
  };

  /**
   * Re-reads shared memory and emits what changed. Safe to call at any
   * time. `identity`: also check the label and names table and the file's
   * size (the poll timer does; a doorbell need not).
   */
  scan(identity = true): void {
    if (this.#closed || !this.#differ.started || !this.#guard.usable(identity)) return;
    this.#guard.check(identity);
    this.#checkAvailability();
    this.#inputs.acknowledged();
    followRing(this.#ring.drain(), { differ: this.#differ, events: this, metrics: this.metrics, problem: this.#problem, log: this.#log, configured: this.config.lines.length });
    this.#differ.diffBanks();
    this.#trackQueues();
    // A truncation between the size check and the reads above read zeros: stop at once rather than at the next scan.
    if (!this.#guard.usable(false)) return;
    this.metrics.emit('scanned');
  }

  #trackQueues(): void {
    for (const index of new Set([...this.#queueDepths.keys(), ...this.#inputs.queuedLines])) this.#trackQueue(index);
  }

  #trackQueue(index: number): void {
    const depth = this.#inputs.queued(index);
    if ((this.#queueDepths.get(index) ?? 0) === depth) return;
    if (depth === 0) this.#queueDepths.delete(index);
    else this.#queueDepths.set(index, depth);
    this.metrics.emit('queue', index, depth);
  }

  /** The guard failed the chip: no more polls, and nothing queued will be written now. */
  #failed(): void {
    this.#stopPolling?.();
    // Whoever waits for those changes hears so.
    this.#inputs.abandon();
    if (this.#online) {
      this.#online = false;
      this.emit('availability', false);
      this.metrics.emit('guest-bound', false);
    }
  }

  /** Re-reads whether a guest is online (every scan does, before it reads anything else). */
  #checkAvailability(): void {
    const evidence = this.#readEvidence();
    // Zeros read from a page a truncation took away are not a guest that left: the chip fails instead.
    if (this.#guard.usable(false)) this.#followAvailability(evidence);
  }

  #readEvidence(): GuestEvidence {
    const endpoint = this.#transport.endpoint;
    return readEvidence(this.#transport.mem, endpoint === null ? null : endpoint.peers().map((p) => p.id));
  }

  /** Takes `evidence` (read from memory the guard then found usable) as the guest's availability now. */
  #followAvailability(evidence: GuestEvidence): void {
    const availability = guestAvailability(evidence);
    const { guestGen: gen, guestPeer: peer, peers } = evidence;
    const online = availability.online;
    const rebound = gen !== this.#guestGen;
    const peerCount = peers?.length ?? 0;
    if (peerCount !== this.#peerCount) {
      this.#peerCount = peerCount;
      this.metrics.emit('peers', peerCount);
    }
    this.#guestGen = gen;
    if (online === this.#online && !rebound) return;
    if (!online || rebound) {
      // A new or departed driver restarts its view from `in`: queued changes are void.
      this.#inputs.clear();
      this.#differ.forgetReportedEnables();
    }
    if (online !== this.#online) {
      this.#online = online;
      this.#log.info(availability.online ? `guest online (peer ${peers === null ? 'none, polling' : peer}, driver generation ${gen})` : `guest offline (driver generation ${gen}: ${availability.why})`);
      this.emit('availability', online);
      this.metrics.emit('guest-bound', online);
    }
  }

  /** Stops the poll timer and doorbells, voids the queues and leaves or closes the transport (a server-mode chip's ivshmem server stays for its guests). Shared memory stays for the next run. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopPolling?.();
    // A level the last scan held for its ring entry: no later scan will publish it.
    if (this.#guard.failure === undefined && this.#differ.started) this.#differ.flush();
    // Clearing the queues writes ack_req bits: not into a truncated file.
    if (this.#guard.failure === undefined) this.#inputs.clear();
    else this.#inputs.abandon();
    await this.#transport.close();
  }
}
