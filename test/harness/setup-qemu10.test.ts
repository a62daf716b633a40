/**
 * scripts/setup-qemu10.sh on the cache the suite uses (setup.sh ran it
 * before the tests): run again it fetches nothing, and what it unpacked is
 * QEMU 10.0, beside (not instead of) Debian 12's 7.2, with every shared
 * library it links found on this system.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir, repoRoot } from '../../testkit/paths.ts';
import { qemuBuild } from '../../testkit/qemu-builds.ts';

const versionOf = (binary: string): string => spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';

describe('scripts/setup-qemu10.sh', () => {
  it('is idempotent: a second run on a complete cache fetches nothing', () => {
    const run = spawnSync(join(repoRoot, 'scripts', 'setup-qemu10.sh'), [cacheDir], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /fetching/, run.stderr);
    assert.match(run.stderr, /^setup: qemu 10\.0 ready: QEMU emulator version 10\.0\.\d+/m);
  });

  it('unpacks into a cache folder that does not exist yet (a fresh checkout)', () => {
    const fresh = mkdtempSync(join(tmpdir(), 'vgpio-qemu10-'));
    try {
      const cache = join(fresh, 'not', 'yet');
      const run = spawnSync(join(repoRoot, 'scripts', 'setup-qemu10.sh'), [cache], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.match(versionOf(join(cache, 'qemu-10', 'usr', 'bin', 'qemu-system-x86_64')), /^QEMU emulator version 10\.0\.\d+/);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('leaves Debian\'s 7.2 as the installed QEMU and unpacks 10.0 beside it, every library it links found', () => {
    const installed = qemuBuild('x86_64', 'qemu-system-x86_64', '7.2');
    const backports = qemuBuild('x86_64', 'qemu-system-x86_64', '10.0');
    assert.match(versionOf(installed.binary), /^QEMU emulator version 7\.2\.\d+/);
    assert.match(versionOf(backports.binary), /^QEMU emulator version 10\.0\.\d+/);
    assert.equal(backports.binary, join(cacheDir, 'qemu-10', 'usr', 'bin', 'qemu-system-x86_64'));
    const ldd = spawnSync('ldd', [backports.binary], { encoding: 'utf8' });
    assert.equal(ldd.status, 0, ldd.stderr);
    assert.doesNotMatch(ldd.stdout, /not found/);
  });
});
