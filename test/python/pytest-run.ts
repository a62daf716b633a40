/**
 * Runs a pytest session with Debian's /usr/bin/python3 (the python3 first on
 * PATH may lack Debian's packages) and declares one node:test case per
 * pytest test, its outcome read from pytest's `-rA` summary, so the Python
 * tests count in `npm test`'s closing line. pytest's output is printed as
 * it ran; a session that collects nothing (exit code 5) or stops early fails.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../testkit/paths.ts';

export const PYTHON = '/usr/bin/python3';
export const pythonEnv = { ...process.env, PYTHONPATH: [join(repoRoot, 'python/src'), join(repoRoot, 'python/tests')].join(':'), PYTHONDONTWRITEBYTECODE: '1' };

interface Outcome {
  id: string;
  outcome: string;
  message: string;
}

function pytest(args: string[]): { outcomes: Outcome[]; status: number | null; output: string } {
  const run = spawnSync(PYTHON, ['-m', 'pytest', '-q', '-rA', '-p', 'no:cacheprovider', '-p', 'vgpio2mqtt.pytest_plugin', ...args], {
    cwd: repoRoot,
    env: pythonEnv,
    encoding: 'utf8',
    timeout: 900_000,
    maxBuffer: 64 << 20,
  });
  const output = `${run.stdout}${run.stderr}${run.error === undefined ? '' : String(run.error)}`;
  // The session's summary is its last one (pytester's inner runs print theirs into the captured output above it).
  const summary = output.slice(Math.max(0, output.lastIndexOf(' short test summary info ')));
  const outcomes: Outcome[] = [];
  for (const line of summary.split('\n')) {
    // "PASSED path::test", "FAILED path::test - message", "SKIPPED [1] path:line: reason".
    const m = /^(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED) (\S+)(?: - (.*))?$/.exec(line);
    if (m !== null) outcomes.push({ outcome: m[1] ?? '', id: m[2] ?? '', message: m[3] ?? '' });
  }
  return { outcomes, status: run.status, output };
}

/** A node:test suite `name` with a case per test of `pytest <args>`. */
export function pytestSuite(name: string, args: string[]): void {
  describe(name, () => {
    const { outcomes, status, output } = pytest(args);
    process.stdout.write(output);

    it('pytest ran tests and finished (exit code 0 or 1)', () => {
      assert.notEqual(status, 5, 'pytest collected no tests (exit code 5)');
      assert.ok(status === 0 || status === 1, `pytest exited with ${String(status)} (2: interrupted, 3: internal error, 4: usage error)`);
      assert.ok(outcomes.length > 0, 'no test outcome in pytest\'s summary');
      if (status === 1) assert.ok(outcomes.some((o) => o.outcome === 'FAILED' || o.outcome === 'ERROR'), 'pytest failed without naming a failed test');
    });

    for (const { id, outcome, message } of outcomes) {
      const skip = outcome === 'SKIPPED' || outcome === 'XFAIL' ? `${outcome.toLowerCase()}: ${id}` : undefined;
      it(`${outcome === 'ERROR' ? 'error in ' : ''}${id}`, { skip }, () => {
        assert.ok(outcome === 'PASSED', `${outcome}: ${message} (pytest's output above)`);
      });
    }
  });
}
