/**
 * An IEEE 1364 Value Change Dump (VCD) writer for one-bit signals: GPIO
 * lines for GTKWave, PulseView and sigrok. Hand-written because the format
 * for single wires is a few dozen lines and the maintained VCD packages are
 * parsers or simulator bindings, not writers that also run in a browser.
 *
 * Browser-safe on purpose: no node: imports, so the web page's download and
 * `vgpio2mqtt capture` write the same files.
 */

export interface VcdSignal {
  name: string;
  /** The level at time 0; left out, the signal starts unknown (`x`). */
  initial?: 0 | 1;
}

/** One level change; `timeNs` counts from the start of the dump (time 0). */
export interface VcdChange {
  timeNs: number;
  signal: number;
  level: 0 | 1;
}

export interface VcdOptions {
  comment?: string;
  date?: Date;
  /** A `$scope module` around the signals (the chip's name); none when left out. */
  scope?: string;
  /**
   * When the recording ended: written as a last `#<ns>` so viewers show how
   * long the final levels lasted; at least 1 ns after the last change, which
   * sigrok otherwise leaves out.
   */
  endNs?: number;
}

/** Identifier codes use the printable ASCII range `!` (33) to `~` (126). */
const CODE_FIRST = 33;
const CODE_COUNT = 94;

/**
 * The identifier code of the signal at `index`: bijective base 94 (`!`..`~`,
 * then `!!`, `"!`, ...), so every index gets its own code and the first 94
 * signals need one character.
 */
export function vcdCode(index: number): string {
  let code = '';
  let rest = index;
  do {
    code += String.fromCharCode(CODE_FIRST + (rest % CODE_COUNT));
    rest = Math.floor(rest / CODE_COUNT) - 1;
  } while (rest >= 0);
  return code;
}

/**
 * A name VCD readers take as one plain wire: every character other than
 * ASCII letters, digits, `_` and `-` becomes `_`. That removes whitespace
 * (it ends the token), `$` (keywords), `[` `]` (read as a bit range) and `.`
 * (GTKWave's hierarchy separator); an empty name becomes `_`.
 */
export function vcdName(name: string): string {
  const plain = name.replace(/[^A-Za-z0-9_-]/g, '_');
  return plain === '' ? '_' : plain;
}

/** Names as vcdName makes them, with `_2`, `_3`... added where two would be the same. */
export function uniqueNames(signals: readonly VcdSignal[]): string[] {
  const taken = new Set<string>();
  return signals.map((signal) => {
    const base = vcdName(signal.name);
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}_${n}`;
    taken.add(name);
    return name;
  });
}

/** Header text (comment, date) must not end its section early. */
function headerText(what: string, text: string): string {
  if (text.includes('$end')) throw new RangeError(`VCD ${what} must not contain "$end"`);
  return text;
}

/**
 * The whole dump: header, `$dumpvars` with the initial levels at time 0,
 * then one `#<ns>` block per distinct time. Changes must come sorted by
 * time (equal times are allowed); a change to the level the signal already
 * has is not a transition and is left out.
 */
export function toVcd(signals: readonly VcdSignal[], changes: Iterable<VcdChange>, options: VcdOptions = {}): string {
  const names = uniqueNames(signals);
  const out: string[] = [];
  out.push(`$date ${(options.date ?? new Date()).toISOString()} $end`);
  out.push('$version vgpio2mqtt $end');
  if (options.comment !== undefined) out.push(`$comment ${headerText('comment', options.comment)} $end`);
  out.push('$timescale 1 ns $end');
  if (options.scope !== undefined) out.push(`$scope module ${vcdName(options.scope)} $end`);
  names.forEach((name, i) => out.push(`$var wire 1 ${vcdCode(i)} ${name} $end`));
  if (options.scope !== undefined) out.push('$upscope $end');
  out.push('$enddefinitions $end');
  out.push('#0', '$dumpvars');
  const levels: ('x' | 0 | 1)[] = signals.map((signal) => signal.initial ?? 'x');
  levels.forEach((level, i) => out.push(`${level}${vcdCode(i)}`));
  out.push('$end');

  let time = 0;
  let changed = false;
  for (const change of changes) {
    const { timeNs, signal } = change;
    // Widened: callers may pass levels parsed from JSON, typed but unchecked.
    const level: number = change.level;
    if (!Number.isInteger(signal) || signal < 0 || signal >= signals.length) throw new RangeError(`VCD change names signal ${signal}; there are ${signals.length}`);
    if (level !== 0 && level !== 1) throw new RangeError(`VCD change to level ${String(level)}; levels are 0 and 1`);
    if (!Number.isFinite(timeNs) || timeNs < 0) throw new RangeError(`VCD change at ${timeNs} ns; times start at 0`);
    const at = Math.round(timeNs);
    if (at < time) throw new RangeError(`VCD change at ${at} ns comes after one at ${time} ns; changes must be sorted by time`);
    if (levels[signal] === level) continue;
    if (at > time) {
      out.push(`#${at}`);
      time = at;
    }
    levels[signal] = level === 1 ? 1 : 0;
    out.push(`${level}${vcdCode(signal)}`);
    changed = true;
  }
  if (options.endNs !== undefined) {
    if (!Number.isFinite(options.endNs) || options.endNs < 0) throw new RangeError(`VCD end at ${options.endNs} ns; times start at 0`);
    // sigrok shows a change only once time moves past it: a recording that ended at its last change (stopped by a
    // count, in the same millisecond) still ends 1 ns after it.
    const end = Math.max(Math.round(options.endNs), changed ? time + 1 : 0);
    if (end > time) out.push(`#${end}`);
  }
  return `${out.join('\n')}\n`;
}
