/**
 * Line command payloads (`<base>/<chip>/<line>/set`) and state payloads.
 * Accepted: ON OFF 1 0 true false high low TOGGLE (any case), the line's
 * configured payload_on / payload_off, JSON {"state": ..., "pulse_ms": n},
 * or a waveform: JSON {"pwm": {...}}, {"pattern": {...}} or {"bounce":
 * {...}} (docs/topics.md). Anything else is refused with a message saying what is allowed; nothing
 * is guessed.
 */
import type { LineConfig } from '../settings/types.ts';
import type { Level } from '../shm/line-registers.ts';
import type { Wave } from '../signals/waveform.ts';

/** Longest command payload accepted, in bytes. */
export const MAX_COMMAND_BYTES = 256;
export const MAX_PULSE_MS = 3_600_000;

export type Target = { kind: 'level'; level: Level } | { kind: 'toggle' };

export interface LineCommand {
  /** The logical level asked for (ON = 1), or a toggle. */
  target: Target;
  /** Return to the other level after this many milliseconds; null: latch. */
  pulseMs: number | null;
  /** A waveform to run from `target` on (its first step); absent: a plain command. */
  wave?: Wave;
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

const ALLOWED = 'ON, OFF, 1, 0, true, false, high, low, TOGGLE, JSON {"state": ..., "pulse_ms": n} or a waveform {"pwm"|"pattern"|"bounce": {...}}';

/** Shortest step of a waveform, in milliseconds: Node's timers have millisecond resolution. */
export const MIN_STEP_MS = 1;
/** Longest step, as for a pulse. */
export const MAX_STEP_MS = MAX_PULSE_MS;
/** Most pulses of a finite pattern or a bounce. */
export const MAX_WAVE_COUNT = 1_000_000;

const WAVE_FORMS = {
  pwm: '{"period_ms": n, "duty": 0<d<100}',
  pattern: '{"high_ms": n, "low_ms": n, "count": n (optional: endless)}',
  bounce: '{"pulses": n, "pulse_ms": n, "settle": "ON"|"OFF"}',
} as const;
type WaveKind = keyof typeof WAVE_FORMS;
const isWaveKind = (key: string): key is WaveKind => Object.hasOwn(WAVE_FORMS, key);

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
  const kinds = Object.keys(record).filter(isWaveKind);
  if (kinds.length > 0) return parseWave(record, kinds, line);
  const unknown = Object.keys(record).filter((k) => k !== 'state' && k !== 'pulse_ms');
  if (unknown.length > 0) return { ok: false, error: `unknown JSON field ${quote(unknown[0] ?? '')}; allowed fields: state, pulse_ms, or one of pwm, pattern, bounce` };
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

/** A step length in milliseconds, checked; or the error naming `field` of `kind`. */
function stepMs(kind: WaveKind, field: string, value: unknown): number | string {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < MIN_STEP_MS || value > MAX_STEP_MS) {
    return `"${kind}.${field}" ${quote(JSON.stringify(value))} is not allowed; allowed: a number of milliseconds ${MIN_STEP_MS}..${MAX_STEP_MS}`;
  }
  return value;
}

function countOf(kind: WaveKind, field: string, value: unknown): number | string {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_WAVE_COUNT) {
    return `"${kind}.${field}" ${quote(JSON.stringify(value))} is not allowed; allowed: an integer 1..${MAX_WAVE_COUNT}`;
  }
  return value;
}

/** The fields of one waveform object: the `allowed` ones, some `required`. */
function fieldsOf(kind: WaveKind, value: unknown, allowed: readonly string[], required: readonly string[]): Record<string, unknown> | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `"${kind}" must be an object ${WAVE_FORMS[kind]}`;
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).find((key) => !allowed.includes(key));
  if (unknown !== undefined) return `unknown field ${quote(unknown)} in "${kind}"; allowed: ${WAVE_FORMS[kind]}`;
  const missing = required.find((key) => !(key in record));
  if (missing !== undefined) return `"${kind}" has no "${missing}"; allowed: ${WAVE_FORMS[kind]}`;
  return record;
}

function buildWave(kind: WaveKind, value: unknown, line: Pick<LineConfig, 'payloadOn' | 'payloadOff'>): Wave | string {
  switch (kind) {
    case 'pwm': {
      const f = fieldsOf(kind, value, ['period_ms', 'duty'], ['period_ms', 'duty']);
      if (typeof f === 'string') return f;
      const period = stepMs(kind, 'period_ms', f.period_ms);
      if (typeof period === 'string') return period;
      const duty = f.duty;
      if (typeof duty !== 'number' || !Number.isFinite(duty) || duty <= 0 || duty >= 100) {
        return `"pwm.duty" ${quote(JSON.stringify(duty))} is not allowed; allowed: a percentage above 0 and below 100 (0 and 100 are the levels OFF and ON: send those)`;
      }
      const high = (period * duty) / 100;
      if (high < MIN_STEP_MS || period - high < MIN_STEP_MS) return `"pwm": ${duty}% of ${period} ms leaves a step shorter than ${MIN_STEP_MS} ms; allowed: both the high and the low time at least ${MIN_STEP_MS} ms`;
      return { kind, first: 1, firstMs: high, secondMs: period - high, levels: null };
    }
    case 'pattern': {
      const f = fieldsOf(kind, value, ['high_ms', 'low_ms', 'count'], ['high_ms', 'low_ms']);
      if (typeof f === 'string') return f;
      const high = stepMs(kind, 'high_ms', f.high_ms);
      if (typeof high === 'string') return high;
      const low = stepMs(kind, 'low_ms', f.low_ms);
      if (typeof low === 'string') return low;
      const count = f.count === undefined || f.count === null ? null : countOf(kind, 'count', f.count);
      if (typeof count === 'string') return count;
      return { kind, first: 1, firstMs: high, secondMs: low, levels: count === null ? null : 2 * count };
    }
    case 'bounce': {
      const f = fieldsOf(kind, value, ['pulses', 'pulse_ms', 'settle'], ['pulses', 'pulse_ms', 'settle']);
      if (typeof f === 'string') return f;
      const pulses = countOf(kind, 'pulses', f.pulses);
      if (typeof pulses === 'string') return pulses;
      const pulse = stepMs(kind, 'pulse_ms', f.pulse_ms);
      if (typeof pulse === 'string') return pulse;
      const settle = stateTarget(f.settle, line);
      if (settle?.kind !== 'level') return `"bounce.settle" ${quote(JSON.stringify(f.settle))} is not a level; allowed: "ON", "OFF", true, false, 1, 0`;
      // Settle, then `pulses` dips of pulse_ms to the other level, each followed by the settle level again.
      return { kind, first: settle.level, firstMs: pulse, secondMs: pulse, levels: 2 * pulses + 1 };
    }
  }
}

function parseWave(record: Record<string, unknown>, kinds: WaveKind[], line: Pick<LineConfig, 'payloadOn' | 'payloadOff'>): Parsed<LineCommand> {
  const [kind] = kinds;
  const others = Object.keys(record).filter((key) => key !== kind);
  if (kind === undefined || others.length > 0) return { ok: false, error: `a waveform command has one field, "pwm", "pattern" or "bounce"; got ${quote(Object.keys(record).join(', '))}` };
  const wave = buildWave(kind, record[kind], line);
  if (typeof wave === 'string') return { ok: false, error: wave };
  return { ok: true, value: { target: { kind: 'level', level: wave.first }, pulseMs: null, wave } };
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
