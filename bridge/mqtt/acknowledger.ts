/**
 * When a QoS 1 message from an external broker is acknowledged (PUBACK):
 * once its handlers have taken it (a command: in shared memory, its edge
 * published), never at receipt, so a bridge that stops or dies before
 * taking it gets it again from the broker. With a journal (journal.ts) it
 * also makes that redelivery safe:
 *
 * - a message the broker delivers again (DUP=1) whose packet identifier
 *   the journal records as applied is acknowledged without running again;
 *   a DUP=0 delivery always runs (the broker reuses identifiers once a
 *   message is acknowledged);
 * - a command records its intent in the journal right before it writes
 *   shared memory, and is recorded as applied right after: a crash in
 *   between leaves an intent, which the next run resolves at its start,
 *   before it writes anything, by asking whether the line shows the level
 *   the command wrote (AppliedCheck); if so the command counts as applied,
 *   its edge as not published;
 * - a command's edge goes out before its PUBACK, in the same write (the
 *   connection batches a turn's writes), and the broker reads them in
 *   order: a command it delivers again lost its PUBACK, and so its edge,
 *   which is then published again; one it does not deliver again got both.
 *
 * A slot is cleared once the broker has answered a PINGREQ sent after its
 * PUBACK (it handles a connection's packets in order), when the broker
 * delivers a new message (DUP=0) with the slot's identifier, or once the
 * broker, after a reconnect, moves on to new messages without delivering
 * it again. The bridge sends that PINGREQ once the commands pause
 * (CONFIRM_QUIET_MS) or CONFIRM_BATCH PUBACKs are unconfirmed, not after
 * every command: a broker with Nagle's algorithm on (Mosquitto as Debian
 * ships it) holds the next command behind its PINGRESP until the bridge's
 * delayed ACK, about 40 ms, which made every lone command 44 ms late.
 * Bytes handed to the kernel prove nothing: a connection reset (the bridge
 * killed with unread commands in its socket) makes the broker drop what it
 * had not read yet.
 */
import type { Logger } from '../log.ts';
import type { CommandJournal } from './journal.ts';
import type { Intent, Published, Taking } from './link.ts';

/** The edge of a previous run's intent that shared memory shows was carried out; undefined when it was not, or cannot be told. */
export type AppliedCheck = (intent: Intent) => Published | undefined;

/** How long after the last PUBACK the confirming PINGREQ is sent (see above). */
export const CONFIRM_QUIET_MS = 250;
/** Unconfirmed PUBACKs that send it at once, in a flood (whose traffic both ways carries the ACKs, so no stall). */
export const CONFIRM_BATCH = 1024;

export class Acknowledger {
  readonly #journal: CommandJournal | undefined;
  /** An intent did not fit the journal: said once. */
  #warnedIntent = false;
  readonly #log: Logger;
  readonly #publish: (edge: Published) => void;
  /** Messages handed to handlers and not yet taken. */
  #untaken = 0;
  readonly #idle: (() => void)[] = [];
  /** Callers of whenFewerWaiting() still waiting, in order, with their bound. */
  readonly #room: { limit: number; go: () => void }[] = [];
  /** Packet identifiers of the PUBACKs sent on this connection and not yet known to have reached the broker, in order. */
  #unconfirmed: number[] = [];
  /** Per PINGREQ in flight, in order: how many of #unconfirmed were sent before it. */
  #pings: number[] = [];
  /** Sends the confirming PINGREQ once PUBACKs pause; re-armed at each one. */
  #confirmTimer: NodeJS.Timeout | undefined;
  /** PUBACKs sent since the last confirming PINGREQ. */
  #sinceConfirm = 0;
  /** Slots whose PUBACK went out on a connection that closed: the broker delivers the message again, or got it. */
  readonly #awaitingRepeat = new Set<number>();
  /** The connection is closed: what is taken from now on (commands dropped from a closing chip's queue) is not acknowledged, nor recorded as applied. */
  #closed = false;

  readonly #ping: () => void;

  /** `publish` publishes an edge again; `ping` sends a PINGREQ; `applied` resolves the intents a crash left in the journal. */
  constructor(journal: { journal: CommandJournal; applied: AppliedCheck } | undefined, publish: (edge: Published) => void, ping: () => void, log: Logger) {
    this.#journal = journal?.journal;
    this.#publish = publish;
    this.#ping = ping;
    this.#log = log;
    if (journal !== undefined) this.#resolve(journal.journal, journal.applied);
    for (const id of journal?.journal.entries.keys() ?? []) this.#awaitingRepeat.add(id);
  }

  /** Before anything of this run writes shared memory: each intent left is either applied (its edge to publish once) or not (run when delivered again). */
  #resolve(journal: CommandJournal, applied: AppliedCheck): void {
    const intents = [...journal.intents];
    if (intents.length === 0) return;
    let done = 0;
    for (const [id, intent] of intents) {
      const edge = applied(intent);
      if (edge !== undefined) {
        journal.applied(id, edge);
        done += 1;
      }
      journal.resolved(id);
    }
    this.#log.warn(
      `the previous run stopped while writing ${intents.length} command(s) to shared memory: ${done} reached it (acknowledged without being applied again when the broker delivers them again, their edges published then), ${intents.length - done} did not (applied when delivered again)`,
    );
  }

  /** Records what the command with packet identifier `id` is about to write, before it does (see CommandJournal.intended). */
  intend(id: number, intent: Intent): void {
    if (this.#closed || this.#journal === undefined) return;
    if (this.#journal.intended(id, intent) || this.#warnedIntent) return;
    this.#warnedIntent = true;
    this.#log.warn(`chip name ${intent.chip} too long for the journal: a command on it that a crash interrupts may be applied again when the broker delivers it again`);
  }

  get untaken(): number {
    return this.#untaken;
  }

  /** Applied commands whose acknowledgement is not known to have reached the broker. */
  get unconfirmed(): number {
    return this.#journal?.entries.size ?? 0;
  }

  /** Whether a delivery is the broker's repeat of a command this session already applied. */
  repeated(id: number, dup: boolean): boolean {
    if (!dup && this.#awaitingRepeat.size > 0) {
      // The broker sends what it delivers again first, then new messages: the rest reached it.
      for (const waiting of this.#awaitingRepeat) this.#journal?.clear(waiting);
      this.#awaitingRepeat.clear();
    }
    if (!dup) {
      // The broker reuses an identifier once the message that had it was acknowledged: that slot is void.
      this.#journal?.clear(id);
      return false;
    }
    return this.#journal?.has(id) === true;
  }

  /** (Re)connected. Without a resumed session the broker delivers nothing again: edges that may be lost are published, the journal emptied. */
  connected(sessionPresent: boolean): void {
    const journal = this.#journal;
    if (journal === undefined || sessionPresent) return;
    let republished = 0;
    for (const id of [...journal.entries.keys()]) {
      if (this.#republish(id)) republished += 1;
      journal.clear(id);
    }
    this.#awaitingRepeat.clear();
    if (republished > 0) this.#log.warn(`the broker kept no session: published ${republished} edge(s) of commands whose acknowledgement may not have reached it (some may have gone out before)`);
  }

  /** The connection closed: what it did not confirm may come again. */
  disconnected(): void {
    for (const id of this.#unconfirmed) this.#awaitingRepeat.add(id);
    this.#unconfirmed = [];
    this.#pings = [];
  }

  /** A PUBACK went into the stream: a PINGREQ follows once PUBACKs pause (or many wait), to learn when the broker has it. */
  sentAck(id: number): void {
    if (this.#journal?.has(id) !== true) return;
    this.#unconfirmed.push(id);
    this.#sinceConfirm += 1;
    if (this.#sinceConfirm >= CONFIRM_BATCH) {
      this.#confirm();
      return;
    }
    if (this.#confirmTimer === undefined) {
      this.#confirmTimer = setTimeout(() => {
        this.#confirm();
      }, CONFIRM_QUIET_MS);
      // Confirming matters only while the bridge runs; a stop confirms through its last publication.
      this.#confirmTimer.unref();
    } else {
      this.#confirmTimer.refresh();
    }
  }

  #confirm(): void {
    clearTimeout(this.#confirmTimer);
    this.#confirmTimer = undefined;
    this.#sinceConfirm = 0;
    if (!this.#closed) this.#ping();
  }

  /** A PINGREQ went into the stream (ours, or mqtt.js's keepalive). */
  sentPing(): void {
    this.#pings.push(this.#unconfirmed.length);
  }

  /** The broker answered the oldest PINGREQ: it has read everything sent before it. */
  pong(): void {
    const before = this.#pings.shift();
    if (before === undefined) return;
    for (const confirmed of this.#unconfirmed.splice(0, before)) this.#journal?.clear(confirmed);
    this.#pings = this.#pings.map((count) => count - before);
  }

  /** Acknowledges (`ack`) a repeat of an applied command without running it, publishing its edge again first. */
  repeat(id: number, ack: () => void): void {
    if (this.#closed) return;
    this.#awaitingRepeat.delete(id);
    const again = this.#republish(id);
    this.#log.debug(`message ${id} delivered again: already applied, acknowledged only${again ? ', its edge published again' : ''}`);
    ack();
  }

  /** Acknowledges once every handler's Taking is taken, right after recording what the message did. */
  take(id: number, waits: Taking[], ack: () => void): void {
    if (this.#closed) return;
    let left = waits.length;
    let edge: Published | undefined;
    const pending = waits.some((w) => !w.taken);
    if (pending) this.#untaken += 1;
    const finish = (): void => {
      if (pending) this.#untaken -= 1;
      if (!this.#closed) {
        if (this.#journal?.applied(id, edge) === false) this.#log.warn(`edge ${edge?.topic ?? ''} too long for the journal: not published again should the bridge die before its command is acknowledged`);
        ack();
      }
      while (this.#room.length > 0 && this.#untaken < (this.#room[0]?.limit ?? 0)) this.#room.shift()?.go();
      if (this.#untaken === 0) for (const resolve of this.#idle.splice(0)) resolve();
    };
    if (left === 0) {
      finish();
      return;
    }
    for (const wait of waits) {
      wait.whenTaken((made) => {
        edge ??= made;
        left -= 1;
        if (left === 0) finish();
      });
    }
  }

  /** Calls `go` once fewer than `limit` messages handed to handlers are not taken yet (at once if so already), in call order. */
  whenFewerWaiting(limit: number, go: () => void): void {
    if (this.#room.length === 0 && this.#untaken < limit) go();
    else this.#room.push({ limit, go });
  }

  /** Resolves once every message handed to handlers is taken. */
  idle(): Promise<void> {
    if (this.#untaken === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** The broker answered the last publication: every PUBACK sent so far reached it. */
  confirmed(): void {
    for (const id of this.#unconfirmed) this.#journal?.clear(id);
    this.#unconfirmed = [];
    this.#pings = [];
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#confirmTimer);
    this.#confirmTimer = undefined;
    this.#journal?.close();
  }

  /** Publishes a slot's edge again unless it already was; whether it did. */
  #republish(id: number): boolean {
    const entry = this.#journal?.entries.get(id);
    if (entry?.edge === undefined || entry.republished) return false;
    this.#publish(entry.edge);
    this.#journal?.republished(id);
    return true;
  }
}
