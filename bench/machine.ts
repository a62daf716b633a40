/** What a benchmark run ran on and what it measured: for the heading of each run in RESULTS.md. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { repoRoot } from '../testkit/kernel.ts';

function firstLine(command: string, args: string[]): string {
  try {
    const out = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: repoRoot });
    return out.split('\n')[0]?.trim() ?? '?';
  } catch (error) {
    // mosquitto -h prints its version and exits 3.
    const out = (error as { stdout?: string }).stdout ?? '';
    return out.split('\n')[0]?.trim() ?? 'not installed';
  }
}

export interface Machine {
  date: string;
  commit: string;
  cpu: string;
  cores: number;
  memoryGiB: string;
  kernel: string;
  node: string;
  qemu: string;
  mosquitto: string;
  /** 1-minute load average when the run ended: other work on the machine skews the figures. */
  load: string;
}

export function machine(): Machine {
  const dirty = firstLine('git', ['status', '--porcelain', '--untracked-files=no']) === '' ? '' : ' (with uncommitted changes)';
  return {
    date: new Date().toISOString(),
    commit: `${firstLine('git', ['rev-parse', '--short=12', 'HEAD'])}${dirty}`,
    cpu: cpus()[0]?.model ?? '?',
    cores: cpus().length,
    memoryGiB: (totalmem() / 2 ** 30).toFixed(1),
    kernel: firstLine('uname', ['-r']),
    node: process.version,
    qemu: firstLine('qemu-system-x86_64', ['--version']),
    mosquitto: firstLine('mosquitto', ['-h']),
    load: (loadavg()[0] ?? 0).toFixed(2),
  };
}
