/**
 * The Python package's tests (python/tests against a bridge with a fake
 * guest, examples/python) and `mypy --strict` over python/ and the examples,
 * counted in `npm test`'s closing line (see pytest-run.ts).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../testkit/paths.ts';
import { PYTHON, pythonEnv, pytestSuite } from './pytest-run.ts';

pytestSuite('Python package (pytest)', ['-p', 'fake_bridge', '-p', 'pytester', 'python/tests', 'examples/python']);

it('mypy --strict over python/ and the examples', () => {
  const files = ['src', 'tests', '../examples/python', '../examples/labgrid'];
  const run = spawnSync(PYTHON, ['-m', 'mypy', '--strict', '--cache-dir', '/dev/null', ...files], { cwd: join(repoRoot, 'python'), env: pythonEnv, encoding: 'utf8', timeout: 600_000 });
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
});

it('pip installs ./python into a venv (Debian packages only) and pytest finds the plugin once', (t) => {
  // A copy: setuptools writes build/ and *.egg-info next to the sources.
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-pip-'));
  try {
    cpSync(join(repoRoot, 'python'), join(dir, 'python'), { recursive: true, filter: (src) => !/(\.mypy_cache|__pycache__|build|\.egg-info)$/.test(src) });
    const sh = (cmd: string, args: string[]): string => {
      const run = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', timeout: 300_000 });
      assert.equal(run.status, 0, `${cmd} ${args.join(' ')}: ${run.stdout}${run.stderr}`);
      return run.stdout;
    };
    sh(PYTHON, ['-m', 'venv', '--system-site-packages', 'venv']);
    const python = join(dir, 'venv/bin/python');
    sh(python, ['-m', 'pip', 'install', '--no-build-isolation', '--no-deps', '--no-index', './python']);
    const site = sh(python, ['-c', 'import vgpio2mqtt, vgpio2mqtt.labgrid, os; print(os.path.dirname(vgpio2mqtt.__file__))']).trim();
    assert.ok(site.startsWith(join(dir, 'venv')), `imported from ${site}, not the venv`);
    assert.ok(existsSync(join(site, 'py.typed')), 'py.typed is installed');
    // The entry point loads the plugin; -p on top of it must not register it twice.
    assert.match(sh(python, ['-m', 'pytest', '--help']), /--vgpio-url/);
    assert.match(sh(python, ['-m', 'pytest', '-p', 'vgpio2mqtt.pytest_plugin', '--help']), /--vgpio-url/);
    t.diagnostic(`installed into ${site}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
