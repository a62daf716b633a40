/**
 * The flags of `vgpio2mqtt capture`, checked against the configuration
 * before anything connects: every mistake is a CaptureArgsError (the CLI
 * exits 2) saying what is allowed.
 */
import type { ChipConfig, LineConfig, Settings } from '../config/types.ts';

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
} as const;

export type CaptureFlagValues = Partial<Record<keyof typeof CAPTURE_FLAGS, string>>;

export interface CaptureOptions {
  chip: ChipConfig;
  /** In VCD signal order: as given by --lines, else by line number. */
  lines: LineConfig[];
  /** Stop after this long (from the moment the capture is subscribed). */
  durationMs?: number;
  /** Stop after this many edges on the chosen lines. */
  count?: number;
  /** A file path, or `-` for stdout. */
  out: string;
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

function findLine(chip: ChipConfig, word: string): LineConfig {
  const line = chip.lines.find((l) => l.name === word) ?? (/^\d+$/.test(word) ? chip.lines[Number(word)] : undefined);
  if (line === undefined) {
    const named = chip.lines.filter((l) => l.configured).map((l) => l.name);
    throw new CaptureArgsError(`chip ${chip.name} has no line ${JSON.stringify(word)}; lines are named (${named.join(', ') || 'none named'}) or numbered 0..${chip.ngpio - 1}`);
  }
  return line;
}

function parseLines(chip: ChipConfig, text: string | undefined): LineConfig[] {
  if (text === undefined) return chip.lines;
  const words = text.split(',').map((w) => w.trim());
  if (words.some((w) => w === '')) throw new CaptureArgsError(`--lines ${JSON.stringify(text)} has an empty entry; give names or numbers separated by commas, e.g. --lines button,led,3`);
  const lines = words.map((w) => findLine(chip, w));
  const twice = lines.find((line, i) => lines.indexOf(line) !== i);
  if (twice !== undefined) throw new CaptureArgsError(`--lines names line ${twice.line} (${twice.name}) twice`);
  return lines;
}

export function captureOptions(values: CaptureFlagValues, settings: Settings): CaptureOptions {
  if (values.chip === undefined) throw new CaptureArgsError(`capture needs --chip <chip>; chips: ${settings.chips.map((c) => c.name).join(', ') || 'none configured'}`);
  const chip = settings.chips.find((c) => c.name === values.chip);
  if (chip === undefined) throw new CaptureArgsError(`no chip ${JSON.stringify(values.chip)} in the configuration; chips: ${settings.chips.map((c) => c.name).join(', ') || 'none configured'}`);
  if (values.out === undefined || values.out === '') throw new CaptureArgsError('capture needs --out <file.vcd>, or --out - to write the VCD to stdout');
  const options: CaptureOptions = { chip, lines: parseLines(chip, values.lines), out: values.out };
  if (values.duration !== undefined) options.durationMs = parseDuration(values.duration);
  if (values.count !== undefined) options.count = parseCount(values.count);
  return options;
}
