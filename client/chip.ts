import { clock, VgpioError } from './errors.ts';
import { DEFAULT_TIMEOUT_MS, Line } from './line.ts';
import type { ChipInfo, Link } from './link.ts';
import { checkTimeout, waitFor } from './wait.ts';

/** One chip of the bridge, as its `bridge/info` names it. */
export class Chip {
  readonly name: string;
  readonly #link: Link;
  readonly #info: () => ChipInfo | undefined;
  readonly #lines = new Map<string, Line>();
  #availability: { online: boolean; sinceMs: number } | undefined;
  #watching: Promise<void> | undefined;
  readonly #listeners = new Set<() => void>();

  /** `info` reads the chip's latest entry in `bridge/info` (undefined once the bridge no longer has it). */
  constructor(link: Link, name: string, info: () => ChipInfo | undefined) {
    this.#link = link;
    this.name = name;
    this.#info = info;
  }

  get info(): ChipInfo {
    const info = this.#info();
    if (info === undefined) throw new VgpioError('unknown_chip', `the bridge no longer has chip ${JSON.stringify(this.name)}`);
    return info;
  }

  /** A line by its name or number; an unknown one fails at once, listing the lines there are. */
  line(nameOrNumber: string | number): Line {
    const { lines } = this.info;
    const found = typeof nameOrNumber === 'number' ? lines.find((l) => l.line === nameOrNumber) : lines.find((l) => l.name === nameOrNumber) ?? lines.find((l) => String(l.line) === nameOrNumber);
    if (found === undefined) {
      const list = lines.map((l) => (l.name === String(l.line) ? l.name : `${l.line} ${l.name}`)).join(', ');
      throw new VgpioError('unknown_line', `chip ${this.name} has no line ${JSON.stringify(nameOrNumber)}; its lines: ${list === '' ? 'none' : list}`);
    }
    let line = this.#lines.get(found.name);
    if (line === undefined) {
      line = new Line(this.#link, this.name, found);
      this.#lines.set(found.name, line);
    }
    return line;
  }

  /** Resolves once `<base>/<chip>/availability` says `online` (a guest with its driver bound); at once if it does now. */
  async waitOnline(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = checkTimeout('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.#watching ??= this.#link.subscribe(this.#link.topics.availability(this.name), (payload) => {
      const online = payload === 'online';
      if (online !== this.#availability?.online) this.#availability = { online, sinceMs: Date.now() };
      for (const listener of [...this.#listeners]) listener();
    });
    await this.#watching;
    if (this.#availability?.online === true) return;
    await waitFor<undefined>(
      (done) => {
        const listener = (): void => {
          if (this.#availability?.online === true) done(undefined);
        };
        this.#listeners.add(listener);
        return () => this.#listeners.delete(listener);
      },
      timeoutMs,
      () => {
        const saw = this.#availability === undefined ? 'no availability message' : `offline since ${clock(this.#availability.sinceMs)} or earlier`;
        return new VgpioError('timeout', `expected chip ${this.name} online within ${timeoutMs} ms; saw ${saw}`);
      },
      this.#link.signal,
    );
  }
}
