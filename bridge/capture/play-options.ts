/**
 * The flags of `vgpio2mqtt play`, checked against the VCD and the chips the
 * CLI knows (known-chips.ts) before anything is played: every signal gets a
 * host-driven line, or the whole list of what is wrong is one PlayArgsError
 * (the CLI exits 2) and no line changes.
 */
import { readFileSync } from 'node:fs';
import { ChipLookupError, findLine, pickChip, type ChipSource, type KnownChip, type KnownLine } from '../cli/known-chips.ts';
import { readVcd, VcdReadError, type VcdTrace } from './vcd-reader.ts';

export class PlayArgsError extends Error {
  override readonly name = 'PlayArgsError';
}

/** The flags play adds to the configuration's own (node:util parseArgs spec). */
export const PLAY_FLAGS = {
  in: { type: 'string' },
  chip: { type: 'string' },
  map: { type: 'string', multiple: true },
  speed: { type: 'string' },
  loop: { type: 'boolean' },
} as const;

export type PlayFlagValues = Partial<Record<'in' | 'chip' | 'speed' | 'loop', string>> & { map?: string[] };

/** One played signal: the VCD signal's index and the line it drives. */
export interface PlayTarget {
  signal: number;
  chip: string;
  line: KnownLine;
}

export interface PlayOptions {
  file: string;
  trace: VcdTrace;
  /** The played signals, in the VCD's order (signals mapped to `-` are left out). */
  targets: PlayTarget[];
  /** 2 plays twice as fast, 0.5 half as fast. */
  speed: number;
  loop: boolean;
}

const MIN_SPEED = 0.001;
const MAX_SPEED = 1000;

function parseSpeed(text: string | undefined): number {
  if (text === undefined) return 1;
  const speed = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!(speed >= MIN_SPEED && speed <= MAX_SPEED)) throw new PlayArgsError(`--speed ${JSON.stringify(text)} is not a factor from ${MIN_SPEED} to ${MAX_SPEED} (1 plays at the recorded timing, 2 twice as fast)`);
  return speed;
}

function loadTrace(file: string): VcdTrace {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PlayArgsError(`cannot read --in ${JSON.stringify(file)}: ${(error as Error).message}`);
  }
  try {
    return readVcd(text, file);
  } catch (error) {
    if (error instanceof VcdReadError) throw new PlayArgsError(error.message);
    throw error;
  }
}

/** `SIGNAL=chip/line`, `SIGNAL=line` (on --chip or the lone chip) or `SIGNAL=-` (not played), comma-separated or repeated. */
function parseMap(words: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of words.flatMap((w) => w.split(',')).map((w) => w.trim())) {
    const match = /^([^=]+)=(.+)$/.exec(entry);
    if (match === null) throw new PlayArgsError(`--map ${JSON.stringify(entry)} is not SIGNAL=chip/line, SIGNAL=line or SIGNAL=- (leave the signal out)`);
    const [, signal = '', target = ''] = match;
    if (map.has(signal)) throw new PlayArgsError(`--map names signal ${signal} twice`);
    map.set(signal, target);
  }
  return map;
}

/** The line `target` names (`chip/line` or a line of `chip`), or the reason it names none. */
function lineOf(source: ChipSource, chip: KnownChip | undefined, target: string): { chip: string; line: KnownLine } | string {
  const slash = target.indexOf('/');
  try {
    const owner = slash < 0 ? chip : pickChip(source, target.slice(0, slash), 'chip/line');
    if (owner === undefined) return `no chip was given for line ${target}: write chip/line or pass --chip`;
    return { chip: owner.name, line: findLine(owner, slash < 0 ? target : target.slice(slash + 1)) };
  } catch (error) {
    if (error instanceof ChipLookupError) return error.message;
    throw error;
  }
}

/** Checks the flags, reads the VCD and maps every signal to a line (see the module comment). */
export function playOptions(values: PlayFlagValues, source: ChipSource): PlayOptions {
  if (values.in === undefined || values.in === '') throw new PlayArgsError('play needs --in <file.vcd>');
  const speed = parseSpeed(values.speed);
  const trace = loadTrace(values.in);
  const map = parseMap(values.map ?? []);
  // The default chip for bare line names: --chip, else the lone chip (none when there are several).
  const chip = values.chip !== undefined ? pickChip(source, values.chip, '--chip <chip>') : source.chips.length === 1 ? source.chips[0] : undefined;
  const problems: string[] = [];
  const known = new Set(trace.signals.flatMap((s) => [s.name, s.path]));
  const unknown = [...map.keys()].filter((name) => !known.has(name));
  if (unknown.length > 0) problems.push(`--map names signal(s) not in ${values.in}: ${unknown.join(', ')} (its signals: ${trace.signals.map((s) => s.path).join(', ')})`);
  const targets: PlayTarget[] = [];
  trace.signals.forEach((signal, index) => {
    const mapped = map.get(signal.path) ?? map.get(signal.name);
    if (mapped === '-') return;
    const found = lineOf(source, chip, mapped ?? signal.name);
    if (typeof found === 'string') {
      problems.push(mapped === undefined ? `signal ${signal.path} has no line of the same name (${found}); map it with --map ${signal.name}=chip/line, or leave it out with --map ${signal.name}=-` : `--map ${signal.name}=${mapped}: ${found}`);
      return;
    }
    if (found.line.direction === 'output') {
      problems.push(`signal ${signal.path} would drive ${found.chip}/${found.line.name}, an output the guest drives; play only drives input lines (leave it out with --map ${signal.name}=-)`);
      return;
    }
    const twice = targets.find((t) => t.chip === found.chip && t.line.line === found.line.line);
    if (twice !== undefined) {
      problems.push(`signals ${trace.signals[twice.signal]?.path ?? ''} and ${signal.path} both drive ${found.chip}/${found.line.name}`);
      return;
    }
    const unknownAt = trace.changes.find((c) => c.signal === index && c.level === 'x');
    if (unknownAt !== undefined) {
      problems.push(`signal ${signal.path} becomes x or z (unknown) at ${unknownAt.timeNs} ns; a line can only be played 0 or 1 (an unknown level at time 0 leaves the line as it is)`);
      return;
    }
    targets.push({ signal: index, chip: found.chip, line: found.line });
  });
  if (problems.length > 0) throw new PlayArgsError(`nothing was played:\n  ${problems.join('\n  ')}`);
  if (targets.length === 0) throw new PlayArgsError(`nothing to play: every signal of ${values.in} is left out with --map SIGNAL=-`);
  return { file: values.in, trace, targets, speed, loop: values.loop === 'true' };
}
