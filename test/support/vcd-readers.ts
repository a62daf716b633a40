/**
 * Reads VCD files back with the tools our users open them in: sigrok-cli
 * (PulseView's library) and GTKWave's vcd2fst, whose FST is turned back
 * into text by fst2vcd. Both are Debian packages installed by
 * scripts/setup.sh.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The level changes sigrok saw, one entry per sample that changed, each as `name=level` in channel order. */
export interface SigrokRead {
  names: string[];
  initial: (0 | 1)[];
  steps: string[][];
}

/**
 * `sigrok-cli -I vcd` with idle periods compressed (a 1 ns timescale is a
 * 1 GHz sample rate; uncompressed, seconds of capture are billions of
 * rows), written as CSV with the channel names as column labels.
 */
export function sigrokRead(file: string): SigrokRead {
  const csv = execFileSync('sigrok-cli', ['-I', 'vcd:compress=4', '-i', file, '-O', 'csv:label=channel:header=false'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 * 1024 * 1024,
  });
  const rows = csv.split('\n').filter((row) => row !== '' && !row.startsWith(';') && !row.startsWith('META '));
  const [header, ...samples] = rows;
  if (header === undefined || samples.length === 0) throw new Error(`sigrok-cli printed no samples for ${file}:\n${csv}`);
  const names = header.split(',');
  const levels = samples.map((row) => row.split(',').map((cell) => (cell === '1' ? 1 : 0)));
  const steps: string[][] = [];
  for (let i = 1; i < levels.length; i++) {
    const before = levels[i - 1] ?? [];
    const changed = (levels[i] ?? []).flatMap((level, column) => (level === before[column] ? [] : [`${names[column]}=${level}`]));
    if (changed.length > 0) steps.push(changed);
  }
  return { names, initial: levels[0] ?? [], steps };
}

export interface VcdRead {
  names: string[];
  /** Value per name at `$dumpvars` (x, 0 or 1). */
  initial: Record<string, string>;
  changes: { timeNs: number; name: string; level: string }[];
}

/** A minimal reader for one-bit VCD, for checking what the tools wrote back. */
export function parseVcd(text: string): VcdRead {
  const names: string[] = [];
  const byCode = new Map<string, string>();
  const initial: Record<string, string> = {};
  const changes: VcdRead['changes'] = [];
  const tokens = text.split(/\s+/).filter((token) => token !== '');
  let time = 0;
  let inDump = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    if (token === '$var') {
      const code = tokens[i + 3] ?? '';
      const name = tokens[i + 4] ?? '';
      names.push(name);
      byCode.set(code, name);
      i += 5;
    } else if (token === '$dumpvars') {
      inDump = true;
    } else if (token === '$end') {
      inDump = false;
    } else if (token.startsWith('$')) {
      while (i < tokens.length && tokens[i] !== '$end') i++;
    } else if (token.startsWith('#')) {
      time = Number(token.slice(1));
    } else {
      const name = byCode.get(token.slice(1));
      if (name === undefined) throw new Error(`VCD value ${JSON.stringify(token)} names no declared signal`);
      if (inDump) initial[name] = token[0] ?? '';
      else changes.push({ timeNs: time, name, level: token[0] ?? '' });
    }
  }
  return { names, initial, changes };
}

/** GTKWave's converter to FST and back: what GTKWave itself would load. */
export function gtkwaveRoundTrip(file: string): VcdRead {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-fst-'));
  try {
    const fst = join(dir, 'capture.fst');
    execFileSync('vcd2fst', [file, fst], { stdio: ['ignore', 'pipe', 'pipe'] });
    return parseVcd(execFileSync('fst2vcd', [fst], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
