/**
 * The flags of `vgpio2mqtt capture`, checked against the chips the CLI
 * knows (known-chips.ts) before recording starts: every mistake is a
 * CaptureArgsError or a ChipLookupError (the CLI exits 2) saying what is
 * allowed.
 */
import { parseDecode, type DecodeSpec } from './decode.ts';
import { findLine, pickChip, type ChipSource, type KnownChip, type KnownLine } from '../cli/known-chips.ts';

export class CaptureArgsError extends Error {
  override readonly name = 'CaptureArgsError';
}

/** The flags capture adds to the configuration's own (node:util parseArgs spec). */
export const CAPTURE_FLAGS = {
  chip: { type: 'string' },
  lines: { type: 'string' },
  duration: { type: 'string' },
  count: { type: 'string' },
  out: { type: 'string' },
  decode: { type: 'string' },
} as const;

export type CaptureFlagValues = Partial<Record<keyof typeof CAPTURE_FLAGS, string>>;

export interface CaptureOptions {
  chip: KnownChip;
  /** In VCD signal order: as given by --lines, else by line number. */
  lines: KnownLine[];
  /** Stop after this long (from the moment the capture is subscribed). */
  durationMs?: number;
  /** Stop after this many edges on the chosen lines. */
  count?: number;
  /** A file path, or `-` for stdout. */
  out: string;
  /** sigrok decoder run over the written file (decode.ts). */
  decode?: DecodeSpec;
}

/** The longest --duration: setTimeout's limit is 24.8 days; a day is plenty for one capture held in memory. */
const MAX_DURATION_MS = 24 * 3600 * 1000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `10s`, `500ms`, `1.5m`, `2h`; a bare number is seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const ms = match === null ? Number.NaN : Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? Number.NaN);
  if (!(ms >= 1 && ms <= MAX_DURATION_MS)) {
    throw new CaptureArgsError(`--duration ${JSON.stringify(text)} is not a duration from 1ms to 24h; write e.g. 10s, 500ms, 2m or 1h (a bare number is seconds)`);
  }
  return Math.round(ms);
}

function parseCount(text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new CaptureArgsError(`--count ${JSON.stringify(text)} is not a whole number of edges from 1`);
  }
  return Number(text);
}

function parseLines(chip: KnownChip, text: string | undefined): KnownLine[] {
  if (text === undefined) return chip.lines;
  const words = text.split(',').map((w) => w.trim());
  if (words.some((w) => w === '')) throw new CaptureArgsError(`--lines ${JSON.stringify(text)} has an empty entry; give names or numbers separated by commas, e.g. --lines button,led,3`);
  const lines = words.map((w) => findLine(chip, w));
  const twice = lines.find((line, i) => lines.indexOf(line) !== i);
  if (twice !== undefined) throw new CaptureArgsError(`--lines names line ${twice.line} (${twice.name}) twice`);
  return lines;
}

/** Checks the flags against the chips `source` knows (known-chips.ts): --chip may be left out when there is one chip. */
export function captureOptions(values: CaptureFlagValues, source: ChipSource): CaptureOptions {
  const chip = pickChip(source, values.chip, '--chip <chip>');
  if (values.out === undefined || values.out === '') throw new CaptureArgsError('capture needs --out <file.vcd>, or --out - to write the VCD to stdout');
  const options: CaptureOptions = { chip, lines: parseLines(chip, values.lines), out: values.out };
  if (values.duration !== undefined) options.durationMs = parseDuration(values.duration);
  if (values.count !== undefined) options.count = parseCount(values.count);
  if (values.decode !== undefined) {
    if (options.out === '-') throw new CaptureArgsError('--decode reads the capture from its file: give --out <file.vcd>, not -');
    options.decode = parseDecode(values.decode, options.lines);
  }
  return options;
}
