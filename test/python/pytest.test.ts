/**
 * The Python package's tests (python/tests against a bridge with a fake
 * guest, examples/python) and `mypy --strict` over python/ and the examples,
 * counted in `npm test`'s closing line (see pytest-run.ts).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.ts';
import { PYTHON, pythonEnv, pytestSuite } from './pytest-run.ts';

pytestSuite('Python package (pytest)', ['-p', 'fake_bridge', '-p', 'pytester', 'python/tests', 'examples/python']);

it('mypy --strict over python/ and the examples', () => {
  const files = ['src', 'tests', '../examples/python', '../examples/labgrid'];
  const run = spawnSync(PYTHON, ['-m', 'mypy', '--strict', '--cache-dir', '/dev/null', ...files], { cwd: join(repoRoot, 'python'), env: pythonEnv, encoding: 'utf8', timeout: 600_000 });
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
});
