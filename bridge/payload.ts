/**
 * Line command payloads (`<base>/<chip>/<line>/set`) and state payloads.
 * Accepted: ON OFF 1 0 true false high low TOGGLE (any case), the line's
 * configured payload_on / payload_off, or JSON {"state": ..., "pulse_ms": n}.
 * Anything else is refused with a message saying what is allowed; nothing
 * is guessed.
 */
import type { LineConfig } from './config/types.ts';
import type { Level } from './shm/line-registers.ts';

/** Longest command payload accepted, in bytes. */
export const MAX_COMMAND_BYTES = 256;
export const MAX_PULSE_MS = 3_600_000;

export type Target = { kind: 'level'; level: Level } | { kind: 'toggle' };

export interface LineCommand {
  /** The logical level asked for (ON = 1), or a toggle. */
  target: Target;
  /** Return to the other level after this many milliseconds; null: latch. */
  pulseMs: number | null;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const WORDS = new Map<string, Target>([
  ['on', { kind: 'level', level: 1 }],
  ['1', { kind: 'level', level: 1 }],
  ['true', { kind: 'level', level: 1 }],
  ['high', { kind: 'level', level: 1 }],
  ['off', { kind: 'level', level: 0 }],
  ['0', { kind: 'level', level: 0 }],
  ['false', { kind: 'level', level: 0 }],
  ['low', { kind: 'level', level: 0 }],
  ['toggle', { kind: 'toggle' }],
]);

const ALLOWED = 'ON, OFF, 1, 0, true, false, high, low, TOGGLE or JSON {"state": ..., "pulse_ms": n}';

function wordTarget(word: string, line: Pick<LineConfig, 'payloadOn' | 'payloadOff'>): Target | undefined {
  if (word === line.payloadOn) return { kind: 'level', level: 1 };
  if (word === line.payloadOff) return { kind: 'level', level: 0 };
  return WORDS.get(word.toLowerCase());
}

function stateTarget(state: unknown, line: Pick<LineConfig, 'payloadOn' | 'payloadOff'>): Target | undefined {
  if (typeof state === 'string') return wordTarget(state.trim(), line);
  if (typeof state === 'boolean') return { kind: 'level', level: state ? 1 : 0 };
  if (state === 0 || state === 1) return { kind: 'level', level: state };
  return undefined;
}

/** Shortens untrusted text for an error message. */
export function quote(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return JSON.stringify(clean.length > 40 ? `${clean.slice(0, 37)}...` : clean);
}

function parseJson(text: string, line: Pick<LineConfig, 'payloadOn' | 'payloadOff' | 'pulseMs'>): Parsed<LineCommand> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { ok: false, error: `payload ${quote(text)} is not valid JSON; allowed: ${ALLOWED}` };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, error: `JSON payload must be an object; allowed: ${ALLOWED}` };
  }
  const record = data as Record<string, unknown>;
  const unknown = Object.keys(record).filter((k) => k !== 'state' && k !== 'pulse_ms');
  if (unknown.length > 0) return { ok: false, error: `unknown JSON field ${quote(unknown[0] ?? '')}; allowed fields: state, pulse_ms` };
  if (!('state' in record)) return { ok: false, error: 'JSON payload has no "state"; allowed: {"state": "ON"|"OFF"|"TOGGLE"|true|false|1|0, "pulse_ms": n}' };
  const target = stateTarget(record.state, line);
  if (target === undefined) {
    return { ok: false, error: `"state" ${quote(JSON.stringify(record.state))} is not a level; allowed: "ON", "OFF", "TOGGLE", true, false, 1, 0` };
  }
  let pulseMs = line.pulseMs;
  if ('pulse_ms' in record) {
    const p = record.pulse_ms;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p > MAX_PULSE_MS) {
      return { ok: false, error: `"pulse_ms" ${quote(JSON.stringify(p))} is not allowed; allowed: an integer 0..${MAX_PULSE_MS} (0: no pulse)` };
    }
    pulseMs = p === 0 ? null : p;
  }
  return { ok: true, value: { target, pulseMs } };
}

/** Parses a `.../set` payload for `line`. */
export function parseCommand(payload: Buffer | string, line: Pick<LineConfig, 'payloadOn' | 'payloadOff' | 'pulseMs'>): Parsed<LineCommand> {
  const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (bytes > MAX_COMMAND_BYTES) return { ok: false, error: `payload is ${bytes} bytes; at most ${MAX_COMMAND_BYTES} are allowed` };
  const text = (typeof payload === 'string' ? payload : payload.toString('utf8')).trim();
  if (text === '') return { ok: false, error: `empty payload; allowed: ${ALLOWED}` };
  if (text.startsWith('{') || text.startsWith('[')) return parseJson(text, line);
  const target = wordTarget(text, line);
  if (target === undefined) return { ok: false, error: `payload ${quote(text)} is not a command; allowed: ${ALLOWED}` };
  return { ok: true, value: { target, pulseMs: line.pulseMs } };
}

/** The state payload for a logical level. */
export function statePayload(level: Level, line: Pick<LineConfig, 'payloadOn' | 'payloadOff'>): string {
  return level === 1 ? line.payloadOn : line.payloadOff;
}

/** Electrical level (what shared memory holds) <-> logical level (what MQTT shows). */
export function logical(electrical: Level, line: Pick<LineConfig, 'inverted'>): Level {
  return line.inverted ? (electrical === 1 ? 0 : 1) : electrical;
}

export const electrical = logical;
