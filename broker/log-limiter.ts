/**
 * Rate-limited warnings: a client that reconnects in a loop, or a page
 * on a foreign site retrying its WebSocket, would otherwise write one log
 * line per refusal (51 refusals, 51 lines). Each kind of refusal starts an
 * episode: its first occurrence is written at once, later ones are only
 * counted, and at the end of each interval one summary line says how many
 * there were and gives the last one. An interval with none ends the
 * episode, so the next refusal of that kind is again written at once.
 * Hand-written: the logging libraries' samplers drop lines without saying
 * how many, which hides the size of an attack.
 */

interface Episode {
  /** Occurrences since the last line written. */
  count: number;
  last: string;
  timer: NodeJS.Timeout;
}

export class RateLimitedLog {
  readonly #write: (line: string, kind: string) => void;
  readonly #intervalMs: number;
  readonly #episodes = new Map<string, Episode>();

  /** `write` gets each line and the kind it is about. */
  constructor(write: (line: string, kind: string) => void, intervalMs = 10_000) {
    this.#write = write;
    this.#intervalMs = intervalMs;
  }

  /** Reports one occurrence of `kind`, described by `line`. */
  report(kind: string, line: string): void {
    const episode = this.#episodes.get(kind);
    if (episode !== undefined) {
      episode.count += 1;
      episode.last = line;
      return;
    }
    this.#write(line, kind);
    this.#episodes.set(kind, { count: 0, last: line, timer: this.#tick(kind) });
  }

  #tick(kind: string): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#summarise(kind);
    }, this.#intervalMs);
    // A pending summary must not keep a stopping bridge alive.
    timer.unref();
    return timer;
  }

  #summarise(kind: string): void {
    const episode = this.#episodes.get(kind);
    if (episode === undefined) return;
    if (episode.count === 0) {
      this.#episodes.delete(kind);
      return;
    }
    this.#write(`${episode.count} more like this in the last ${this.#intervalMs / 1000} s (${kind}); the last: ${episode.last}`, kind);
    episode.count = 0;
    episode.timer = this.#tick(kind);
  }

  /** Writes what is still uncounted and stops the timers. */
  close(): void {
    for (const [kind, episode] of this.#episodes) {
      clearTimeout(episode.timer);
      if (episode.count > 0) this.#write(`${episode.count} more like this (${kind}); the last: ${episode.last}`, kind);
    }
    this.#episodes.clear();
  }
}
