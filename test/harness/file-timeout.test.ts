/**
 * test/run.ts gives each file a time limit and kills what a timed-out file
 * started: a hung file fails and the run goes on, instead of waiting until
 * CI's own limit (which is what one capture process left running did).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../support/scratch-dir.ts';

/** Whether `pid` is a live process (a zombie waiting for its new parent to reap it counts as dead). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

describe('test/run.ts', () => {
  const dir = scratchDir('vgpio-file-timeout-');

it('fails a file past its time limit, kills the processes it started, and goes on', { timeout: 60_000 }, async () => {
  const pidFile = join(dir, 'child.pid');
  // NODE_TEST_CONTEXT tells node:test it runs inside a test file, where run() starts nothing.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const runner = spawn(process.execPath, ['--import', 'tsx', 'test/run.ts', 'test/harness/fixtures/leaves-a-child.ts', 'test/bridge/topics.unit.test.ts'], {
    env: { ...env, VGPIO_TEST_FILE_TIMEOUT_MS: '3000', VGPIO_CHILD_PID_FILE: pidFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  runner.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  runner.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => runner.once('close', resolve));
  assert.equal(code, 1, output);
  assert.match(output, /leaves-a-child\.ts .*\n\s+'test timed out after 3000ms'/);
  // The file after the hung one ran: its tests count.
  assert.match(output, /✔ Topics/);
  assert.match(output, /\n\d+ passed, 1 failed\n/);
  const child = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(child > 0);
  assert.equal(alive(child), false, `the hung file's child ${child} still runs`);
});
});
