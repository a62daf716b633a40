/**
 * An expect-style view of a text stream (a guest's serial console): keeps
 * the whole log, and lets a test wait for the next output matching a
 * pattern. Waits consume output: each match moves a cursor forward, so a
 * second wait for the same pattern needs a second occurrence.
 */
import type { Readable } from 'node:stream';

/** How much of the log a timeout error carries. */
const LOG_TAIL_CHARS = 16_000;

interface Waiter {
  pattern: RegExp;
  resolve: (match: RegExpExecArray) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class ConsoleLog {
  #log = '';
  #cursor = 0;
  #closed: string | undefined;
  readonly #waiters = new Set<Waiter>();

  /** Appends everything `stream` emits. */
  attach(stream: Readable): void {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.append(chunk);
    });
  }

  append(text: string): void {
    // Serial consoles send CRLF; tests match on plain lines.
    this.#log += text.replace(/\r/g, '');
    this.#check();
  }

  /** The whole log so far. */
  get text(): string {
    return this.#log;
  }

  /** The last `chars` characters of the log, for error messages. */
  tail(chars = LOG_TAIL_CHARS): string {
    return this.#log.length <= chars ? this.#log : `[...]\n${this.#log.slice(-chars)}`;
  }

  /** Marks the stream as finished: pending and future waits fail at once with `reason`. */
  close(reason: string): void {
    this.#closed = reason;
    for (const waiter of this.#waiters) this.#fail(waiter, reason);
  }

  /**
   * Resolves with the first match of `pattern` after the cursor and moves the
   * cursor past it. Rejects after `timeoutMs`, or when the stream closes,
   * with the console log attached to the error.
   */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const flags = pattern.flags.replace('g', '');
    const anchored = new RegExp(pattern.source, flags);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        pattern: anchored,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#fail(waiter, `timed out after ${timeoutMs} ms waiting for ${String(pattern)}`);
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
      this.#check();
      if (this.#closed !== undefined && this.#waiters.has(waiter)) this.#fail(waiter, this.#closed);
    });
  }

  #fail(waiter: Waiter, reason: string): void {
    if (!this.#waiters.delete(waiter)) return;
    clearTimeout(waiter.timer);
    waiter.reject(new Error(`${reason}\n--- console log ---\n${this.tail()}\n--- end of console log ---`));
  }

  #check(): void {
    for (const waiter of this.#waiters) {
      const rest = this.#log.slice(this.#cursor);
      const match = waiter.pattern.exec(rest);
      if (match === null) continue;
      this.#cursor += match.index + match[0].length;
      this.#waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(match);
    }
  }
}
