/**
 * The Python package's tests (python/tests, examples/python) and
 * `mypy --strict`, run from node:test so they count in `npm test`'s closing
 * line: one node:test case per pytest test (its outcome from pytest's `-rA`
 * summary lines), and mypy as one more. Runs Debian's /usr/bin/python3 (the
 * python3 first on PATH may lack Debian's packages). pytest's own output is
 * printed as it ran; a run that collects nothing (exit code 5) fails.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.ts';

const PYTHON = '/usr/bin/python3';
const env = { ...process.env, PYTHONPATH: [join(repoRoot, 'python/src'), join(repoRoot, 'python/tests')].join(':'), PYTHONDONTWRITEBYTECODE: '1' };

interface Outcome {
  id: string;
  outcome: string;
  message: string;
}

function pytest(): { outcomes: Outcome[]; status: number | null; output: string } {
  const args = ['-m', 'pytest', '-p', 'vgpio2mqtt.pytest_plugin', '-p', 'fake_bridge', '-p', 'pytester', '-q', '-rA', '-p', 'no:cacheprovider', 'python/tests', 'examples/python'];
  const run = spawnSync(PYTHON, args, { cwd: repoRoot, env, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
  const output = `${run.stdout}${run.stderr}${run.error === undefined ? '' : String(run.error)}`;
  const outcomes: Outcome[] = [];
  // The outer run's summary is its last one (pytester's inner runs print theirs into the captured output above it).
  const summary = output.slice(Math.max(0, output.lastIndexOf(' short test summary info ')));
  for (const line of summary.split('\n')) {
    // -rA's short summary: "PASSED path::test", "FAILED path::test - message", "SKIPPED [1] path:line: reason".
    const m = /^(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED) (\S+)(?: - (.*))?$/.exec(line);
    if (m !== null) outcomes.push({ outcome: m[1] ?? '', id: m[2] ?? '', message: m[3] ?? '' });
  }
  return { outcomes, status: run.status, output };
}

describe('Python package (pytest)', () => {
  const { outcomes, status, output } = pytest();
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

  it('mypy --strict over python/ and the examples', () => {
    const run = spawnSync(PYTHON, ['-m', 'mypy', '--strict', '--cache-dir', '/dev/null', 'src', 'tests', '../examples/python'], { cwd: join(repoRoot, 'python'), env, encoding: 'utf8', timeout: 600_000 });
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
  });
});
