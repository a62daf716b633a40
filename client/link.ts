import type { Topics } from '../bridge/mqtt/topics.ts';

/** A chip as `<base>/bridge/info` describes it (the fields the client uses). */
export interface ChipInfo {
  name: string;
  label: string;
  mode: string;
  ngpio: number;
  /** Whether the guest was there when the bridge last published its info; `chip.waitOnline()` follows it live. */
  online: boolean;
  lines: LineInfo[];
}

export interface LineInfo {
  /** The line's number on the chip. */
  line: number;
  /** Its topic level: the configured name, else the number. */
  name: string;
  /** The configured direction: `input` (the host drives it), `output` (the guest does) or `any`. */
  direction: string;
  configured: boolean;
}

/** The bridge's answer to a set request (`data` of `bridge/response/set`). */
export interface SetAnswer {
  result: 'applied' | 'interrupt' | 'queued' | 'unchanged';
  level: 0 | 1;
  state: string;
  pending: boolean;
  queued: number;
}

/** What chips and lines need from the client's connection. */
export interface Link {
  readonly topics: Topics;
  /** Aborts when the client closes: every wait ends then. */
  readonly signal: AbortSignal;
  /** Subscribes `topic` (resolves on the broker's SUBACK) and hands each message to `handler`, for the client's lifetime. */
  subscribe(topic: string, handler: (payload: string, retained: boolean) => void): Promise<void>;
  /** `bridge/request/set` with a unique transaction; resolves with the bridge's `data` or rejects with its error. */
  set(chip: string, line: string, body: { state: string; pulse_ms?: number }, what: string, timeoutMs: number): Promise<SetAnswer>;
}
