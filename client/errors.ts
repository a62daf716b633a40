/** What went wrong, for a test to branch on without matching message text. */
export type VgpioErrorCode =
  | 'bad_input'
  | 'unreachable'
  | 'login_refused'
  | 'no_bridge'
  | 'unknown_chip'
  | 'unknown_line'
  | 'refused'
  | 'timeout'
  | 'closed';

/** Every error the client throws: the message names what was expected and what was seen. */
export class VgpioError extends Error {
  readonly code: VgpioErrorCode;
  /** For `refused`: the bridge's own error text (its `error` field on `bridge/response/set`). */
  readonly reason: string | undefined;
  /**
   * For `refused`: the bridge's reason code (its `reason` field), e.g.
   * `not_host_driven`, `chip_offline`, `queue_overflow`, `bad_payload`
   * (docs/topics.md, "Refused commands"), to branch on without matching text.
   */
  readonly refusal: string | undefined;

  constructor(code: VgpioErrorCode, message: string, reason?: string, refusal?: string) {
    super(message);
    this.name = 'VgpioError';
    this.code = code;
    this.reason = reason;
    this.refusal = refusal;
  }
}

/** A caller's bad value, for messages: strings quoted. */
export const show = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : String(value));

/** A call on a closed client. */
export const closedError = (): VgpioError => new VgpioError('closed', 'the client is closed');

/** `12:01:02.345` (local time) for error messages. */
export function clock(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
