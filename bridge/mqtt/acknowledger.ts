/**
 * When a QoS 1 message from an external broker is acknowledged (PUBACK):
 * once its handlers have taken it (a command: in shared memory, its edge
 * published), never at receipt, so a bridge that stops or dies before
 * taking it gets it again from the broker. With a journal (journal.ts) it
 * also makes that redelivery safe: a message the broker delivers again
 * (DUP=1) whose packet identifier the journal records as applied is
 * acknowledged without running again, and the edges of applied commands
 * whose acknowledgement may not have gone out are published by the next
 * run. A DUP=0 delivery always runs: the broker reuses identifiers once a
 * message is acknowledged.
 */
import type { Writable } from 'node:stream';
import type { Logger } from '../log.ts';
import type { CommandJournal } from './journal.ts';
import type { Published } from './link.ts';

/** What is looked at of the connection's stream. */
type Stream = Pick<Writable, 'destroyed' | 'writableCorked' | 'writableLength'>;

/** How long to wait before looking again whether acknowledgements reached the kernel, in ms. */
const FLUSH_CHECK_MS = 1;

interface Sent {
  id: number;
  /** The connection the PUBACK went to: on another one it may be lost, and the broker delivers the message again. */
  stream: Stream;
}

export class Acknowledger {
  readonly #journal: CommandJournal | undefined;
  readonly #log: Logger;
  readonly #stream: () => Stream | undefined;
  /** Messages handed to handlers and not yet taken. */
  #untaken = 0;
  readonly #idle: (() => void)[] = [];
  /** Acknowledgements written to the stream, not yet known to be in the kernel. */
  #sent: Sent[] = [];
  #checking = false;
  /** The connection is closed: what is taken from now on (commands dropped from a closing chip's queue) is not acknowledged, nor recorded as applied. */
  #closed = false;

  constructor(journal: CommandJournal | undefined, stream: () => Stream | undefined, log: Logger) {
    this.#journal = journal;
    this.#stream = stream;
    this.#log = log;
  }

  get untaken(): number {
    return this.#untaken;
  }

  /** Applied commands whose acknowledgement may not have reached the broker. */
  get unconfirmed(): number {
    return this.#journal?.entries.size ?? 0;
  }

  /** Whether a delivery is the broker's repeat of a command this session already applied. */
  repeated(id: number, dup: boolean): boolean {
    return dup && this.#journal?.has(id) === true;
  }

  /**
   * After a (re)connect: publishes the edges of applied commands that may
   * not have gone out (once: a slot remembers it was republished). Without
   * a resumed session the broker delivers nothing again, so nothing can be
   * recognised: the journal is emptied.
   */
  resume(sessionPresent: boolean, publish: (edge: Published) => void): void {
    const journal = this.#journal;
    if (journal === undefined) return;
    const entries = [...journal.entries];
    let republished = 0;
    for (const [id, entry] of entries) {
      if (entry.edge === undefined || entry.republished) continue;
      publish(entry.edge);
      journal.republished(id);
      republished += 1;
    }
    if (republished > 0) this.#log.info(`published ${republished} edge(s) of commands applied before the bridge stopped without acknowledging them (${journal.path})`);
    if (!sessionPresent) for (const [id] of entries) journal.clear(id);
  }

  /** Acknowledges (`ack`) a repeat of an applied command without running it. */
  repeat(id: number, ack: () => void): void {
    if (this.#closed) return;
    this.#log.debug(`message ${id} delivered again: already applied, acknowledged only`);
    ack();
    this.#track(id);
  }

  /** Acknowledges once every handler's promise settled, after recording what the message did. */
  take(id: number, waits: Promise<Published | undefined>[], ack: () => void): void {
    if (this.#closed) return;
    if (waits.length === 0) {
      this.#record(id, undefined);
      ack();
      this.#track(id);
      return;
    }
    this.#untaken += 1;
    Promise.all(waits).then(
      (edges) => {
        this.#record(id, edges.find((e) => e !== undefined));
        this.#done(id, ack);
      },
      (error: unknown) => {
        this.#log.error(`message ${id}: ${(error as Error).message}`);
        this.#done(id, ack);
      },
    );
  }

  /** Resolves once every message handed to handlers is taken. */
  idle(): Promise<void> {
    if (this.#untaken === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * The broker acknowledged a message published after every PUBACK sent so
   * far on this connection: they all reached it.
   */
  confirmed(): void {
    const current = this.#stream();
    for (const { id, stream } of this.#sent) if (stream === current) this.#journal?.clear(id);
    this.#sent = [];
  }

  close(): void {
    this.#closed = true;
    this.#journal?.close();
  }

  #done(id: number, ack: () => void): void {
    this.#untaken -= 1;
    if (!this.#closed) {
      ack();
      this.#track(id);
    }
    if (this.#untaken === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  #record(id: number, edge: Published | undefined): void {
    if (this.#closed) return;
    if (this.#journal?.applied(id, edge) === false) this.#log.warn(`edge ${edge?.topic ?? ''} too long for the journal: not published again should the bridge die before acknowledging its command`);
  }

  #track(id: number): void {
    const stream = this.#stream();
    if (this.#journal === undefined || stream === undefined) return;
    this.#sent.push({ id, stream });
    this.#later();
  }

  /** Looks again after this turn's batched writes left (MqttConnection uncorks them in a setImmediate queued before). */
  #later(delayMs = 0): void {
    if (this.#checking) return;
    this.#checking = true;
    const check = (): void => {
      this.#checking = false;
      this.written();
    };
    if (delayMs === 0) setImmediate(check);
    else setTimeout(check, delayMs);
  }

  /**
   * Clears the slots whose PUBACK is in the kernel: the stream holds no
   * bytes (Writable counts a chunk until the socket wrote all of it). Call
   * it right after uncorking a batch of writes, when it can tell; under a
   * flood the next batch is corked again by the next turn. Those on a
   * stream that closed first stay: the broker delivers the message again,
   * and the repeat clears it.
   */
  written(): void {
    const journal = this.#journal;
    const current = this.#stream();
    if (journal === undefined || this.#sent.length === 0) return;
    const open = current !== undefined && !current.destroyed;
    const flushed = open && current.writableCorked === 0 && current.writableLength === 0;
    if (!flushed && open) {
      this.#later(FLUSH_CHECK_MS);
      return;
    }
    for (const { id, stream } of this.#sent) if (flushed && stream === current) journal.clear(id);
    this.#sent = [];
  }
}
