/**
 * Loaded into the test runner and every test file's process (test/run.ts
 * adds it to the execArgv they inherit): on SIGTERM or SIGINT, kills every
 * process below this one before exiting.
 *
 * Why: node:test ends a test file that overruns its time by killing the
 * file's process, and a child that process started (a capture CLI, a
 * bridge, QEMU) would live on: holding a guest's CPU for the rest of the
 * run, or, when the runner had no time limit, keeping the run waiting
 * forever (CI timed out that way after one failed assertion left a capture
 * process running). Node has no "kill my children when I die" (no
 * PR_SET_PDEATHSIG, no subreaper), so the process tree is read from /proc.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** The pids of every process below `root`, read from /proc. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we read
    }
    // The command name (field 2) is in parentheses and may hold spaces or parentheses: fields after the last ')' are fixed.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift() ?? 0) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function reap(signal: NodeJS.Signals, code: number): void {
  for (const pid of descendants(process.pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  process.stderr.write(`${signal}: killed what this test process had started, exiting\n`);
  process.exit(code);
}

process.once('SIGTERM', () => {
  reap('SIGTERM', 143);
});
process.once('SIGINT', () => {
  reap('SIGINT', 130);
});
