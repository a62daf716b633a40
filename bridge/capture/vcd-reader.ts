/**
 * Reads a VCD file (IEEE 1364 Value Change Dump) into one-bit signals and
 * their changes, for `vgpio2mqtt play` (play.ts). Hand-written: the VCD
 * packages on npm are parsers for waveform viewers (streams of multi-bit
 * values, no timescale handling) or unmaintained; what play needs is small
 * and its errors must name the problem for the user (docs/replay.md).
 *
 * What it accepts: one-bit signals (`$var` of size 1) in any `$scope`s, the standard timescales (1, 10 or 100 of s,
 * ms, us, ns, ps, fs), values 0 and 1, and x/z (unknown: kept as 'x' for
 * play to decide). Multi-bit vectors, real variables and other input are
 * refused with a VcdReadError naming the line of the file.
 */

export class VcdReadError extends Error {
  override readonly name = 'VcdReadError';
}

export type VcdLevel = 0 | 1 | 'x';

export interface VcdSignal {
  /** Its name as declared (the last word of its path). */
  name: string;
  /** Scopes and name joined by `.`, e.g. `board.button`. */
  path: string;
  /** Its level at time 0 (`$dumpvars`, or the first change at #0); 'x' when none was given. */
  initial: VcdLevel;
}

export interface VcdChange {
  timeNs: number;
  /** Index into `signals`. */
  signal: number;
  level: VcdLevel;
}

export interface VcdTrace {
  signals: VcdSignal[];
  /** Sorted by time; at one time, in file order. A change to the level a signal has is left out. */
  changes: VcdChange[];
  /** The last time in the file (at least the last change's). */
  endNs: number;
}

/** Femtoseconds per unit: ns times are ticks * unit * count / 1e6 (in that order: exact for whole ns). */
const UNIT_FS: Record<string, number> = { s: 1e15, ms: 1e12, us: 1e9, ns: 1e6, ps: 1e3, fs: 1 };

function timescaleFs(text: string, where: string): number {
  const match = /^(1|10|100)\s*(s|ms|us|ns|ps|fs)$/.exec(text.trim());
  const unit = match === null ? undefined : UNIT_FS[match[2] ?? ''];
  if (match === null || unit === undefined) {
    throw new VcdReadError(`${where}: timescale ${JSON.stringify(text.trim())} is not supported; a VCD timescale is 1, 10 or 100 of s, ms, us, ns, ps or fs`);
  }
  return Number(match[1]) * unit;
}

function levelOf(char: string): VcdLevel | undefined {
  if (char === '0') return 0;
  if (char === '1') return 1;
  if ('xXzZ'.includes(char) && char !== '') return 'x';
  return undefined;
}

interface Token {
  text: string;
  line: number;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    for (const word of (lines[i] ?? '').split(/\s+/)) if (word !== '') tokens.push({ text: word, line: i + 1 });
  }
  return tokens;
}

/** Parses VCD text; `file` names it in errors. */
export function readVcd(text: string, file = 'the VCD'): VcdTrace {
  const tokens = tokenize(text);
  if (tokens.length === 0 || !(tokens[0]?.text ?? '').startsWith('$')) {
    throw new VcdReadError(`${file} is not a VCD file: it does not start with a $ declaration (such as $date, $timescale or $scope)`);
  }
  const signals: VcdSignal[] = [];
  const byCode = new Map<string, number[]>();
  const scopes: string[] = [];
  let unitFs: number | undefined;
  let definitionsDone = false;
  let timeNs = 0;
  let endNs = 0;
  const current: VcdLevel[] = [];
  const changes: VcdChange[] = [];
  const started = new Set<number>();
  let i = 0;
  const at = (token: Token): string => `${file} line ${token.line}`;
  /** The words up to `$end` after tokens[i]. */
  const body = (): Token[] => {
    const start = i + 1;
    let end = start;
    while (end < tokens.length && tokens[end]?.text !== '$end') end++;
    if (end >= tokens.length) throw new VcdReadError(`${at(tokens[i] ?? { text: '', line: 0 })}: ${tokens[i]?.text ?? ''} has no $end`);
    i = end;
    return tokens.slice(start, end);
  };
  for (; i < tokens.length; i++) {
    const token = tokens[i] ?? { text: '', line: 0 };
    const word = token.text;
    if (!definitionsDone) {
      if (word === '$timescale') unitFs = timescaleFs(body().map((t) => t.text).join(' '), at(token));
      else if (word === '$scope') scopes.push(body()[1]?.text ?? '');
      else if (word === '$upscope') {
        body();
        scopes.pop();
      } else if (word === '$var') {
        const [type, size, code, name, range] = body();
        if (type === undefined || size === undefined || code === undefined || name === undefined) throw new VcdReadError(`${at(token)}: $var needs a type, a size, an identifier code and a name`);
        const path = [...scopes, name.text].join('.');
        if (type.text === 'real' || type.text === 'realtime' || type.text === 'event' || type.text === 'string') throw new VcdReadError(`${at(token)}: signal ${path} is a ${type.text} variable; only one-bit signals can be played onto a line`);
        if (size.text !== '1' || (range !== undefined && /^\[\d+:\d+\]$/.test(range.text))) throw new VcdReadError(`${at(token)}: signal ${path} is a ${size.text}-bit vector; only one-bit signals can be played onto a line (split the bus into one-bit signals)`);
        const indexes = byCode.get(code.text) ?? [];
        indexes.push(signals.length);
        byCode.set(code.text, indexes);
        signals.push({ name: name.text, path, initial: 'x' });
        current.push('x');
      } else if (word === '$enddefinitions') {
        body();
        definitionsDone = true;
        if (signals.length === 0) throw new VcdReadError(`${file} declares no signals ($var)`);
        if (unitFs === undefined) throw new VcdReadError(`${file} has no $timescale before $enddefinitions; without it its times have no unit`);
      } else if (word.startsWith('$')) body();
      else throw new VcdReadError(`${at(token)}: ${JSON.stringify(word.slice(0, 40))} before $enddefinitions; this is not a VCD file`);
      continue;
    }
    // $dumpvars and its kin only bracket value changes: their values are read like any other.
    if (word === '$dumpvars' || word === '$dumpall' || word === '$dumpon' || word === '$dumpoff' || word === '$end') continue;
    if (word === '$comment') body();
    else if (word.startsWith('#')) {
      const ticks = /^#\d+$/.test(word) ? Number(word.slice(1)) : Number.NaN;
      const next = (ticks * (unitFs ?? 1)) / 1e6;
      if (!Number.isSafeInteger(ticks) || next < timeNs) throw new VcdReadError(`${at(token)}: ${JSON.stringify(word)} is not a time at or after #${(timeNs * 1e6) / (unitFs ?? 1)}`);
      timeNs = next;
      endNs = Math.max(endNs, timeNs);
    } else {
      const level = levelOf(word[0] ?? '');
      if (level === undefined || word.length < 2) throw new VcdReadError(`${at(token)}: value ${JSON.stringify(word.slice(0, 40))} is not a one-bit change (0, 1, x or z followed by an identifier code)`);
      const indexes = byCode.get(word.slice(1));
      if (indexes === undefined) throw new VcdReadError(`${at(token)}: value ${JSON.stringify(word)} names no declared signal`);
      for (const signal of indexes) {
        if (timeNs === 0 && !started.has(signal)) {
          // A signal's first value at #0 ($dumpvars or not) is its initial level; a later one, even at #0, is a change.
          started.add(signal);
          const entry = signals[signal];
          if (entry !== undefined) entry.initial = level;
          current[signal] = level;
          continue;
        }
        if (current[signal] === level) continue;
        current[signal] = level;
        changes.push({ timeNs, signal, level });
      }
    }
  }
  if (!definitionsDone) throw new VcdReadError(`${file} is not a VCD file: it has no $enddefinitions`);
  return { signals, changes, endNs };
}
