import { VgpioError } from './errors.ts';
import { waitFor } from './wait.ts';

export type EdgeKind = 'rising' | 'falling';
export type EdgeSource = 'host' | 'guest';

/** One message of `<base>/<chip>/<line>/edge` (docs/topics.md). */
export interface Edge {
  chip: string;
  line: string;
  edge: EdgeKind;
  /** `host`: the bridge changed an input; `guest`: the guest drove an output. */
  source: EdgeSource;
  seq: number;
  /** The host's wall clock when the bridge saw the change (ms since the epoch). */
  tsMs: number;
  /** The guest kernel's CLOCK_MONOTONIC when the guest reported the change in its event ring. */
  guestNs?: number;
}

/** Parses an edge payload; undefined for anything that is not one (the client never guesses). */
export function parseEdge(chip: string, line: string, payload: string): Edge | undefined {
  let data: unknown;
  try {
    data = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null) return undefined;
  const r = data as Record<string, unknown>;
  if ((r.edge !== 'rising' && r.edge !== 'falling') || (r.source !== 'host' && r.source !== 'guest')) return undefined;
  if (typeof r.seq !== 'number' || typeof r.ts_ms !== 'number') return undefined;
  const edge: Edge = { chip, line, edge: r.edge, source: r.source, seq: r.seq, tsMs: r.ts_ms };
  if (typeof r.guest_ns === 'number') edge.guestNs = r.guest_ns;
  return edge;
}

export interface EdgesOptions {
  /** Only edges from this side. */
  source?: EdgeSource;
  /** How long one `next()` waits for an edge before it fails (default 10000 ms; Infinity: forever). */
  timeoutMs?: number;
}

/**
 * The edges of one line from the moment `line.edges()` resolved (its
 * subscription is in place by then, so nothing after that is missed), in
 * order, buffered until read. Iterate with `for await`; `close()` (or
 * `await using`) ends it.
 */
export class EdgeStream implements AsyncIterableIterator<Edge>, AsyncDisposable {
  readonly #what: string;
  readonly #timeoutMs: number;
  readonly #signal: AbortSignal;
  readonly #buffer: Edge[] = [];
  #wake: (() => void) | undefined;
  #unsubscribe: () => void;
  #closed = false;

  /** `subscribe` hands each edge to the stream and returns how to stop. */
  constructor(what: string, subscribe: (push: (edge: Edge) => void) => () => void, timeoutMs: number, signal: AbortSignal) {
    this.#what = what;
    this.#timeoutMs = timeoutMs;
    this.#signal = signal;
    this.#unsubscribe = subscribe((edge) => {
      this.#buffer.push(edge);
      this.#wake?.();
    });
  }

  /** Edges received and not yet read. */
  get buffered(): readonly Edge[] {
    return this.#buffer;
  }

  async next(): Promise<IteratorResult<Edge, undefined>> {
    if (this.#buffer.length === 0 && !this.#closed) {
      await waitFor<undefined>(
        (done) => {
          this.#wake = () => {
            done(undefined);
          };
          return () => (this.#wake = undefined);
        },
        this.#timeoutMs,
        () => new VgpioError('timeout', `expected an edge on ${this.#what} within ${this.#timeoutMs} ms; saw none`),
        this.#signal,
      );
    }
    const edge = this.#buffer.shift();
    return edge === undefined ? { done: true, value: undefined } : { done: false, value: edge };
  }

  return(): Promise<IteratorResult<Edge, undefined>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Stops listening; edges already buffered can still be read. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    this.#unsubscribe = () => undefined;
    this.#wake?.();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
