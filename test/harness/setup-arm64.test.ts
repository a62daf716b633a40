/**
 * scripts/setup-arm64.sh on the cache the suite uses (setup.sh ran it
 * before the tests): run again it fetches nothing and installs nothing, and
 * what it cached is usable: arm64 headers whose kbuild links resolve to the
 * installed amd64 tools, an arm64 guest kernel with its modules.dep, and an
 * arm64 userspace root.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { archProfile } from '../../testkit/arch.ts';
import { installedHeaders } from '../../testkit/build-module.ts';
import { cachedKernelVersions, cacheDir, repoRoot } from '../../testkit/kernel.ts';

/** ELF e_machine of AArch64 code. */
const EM_AARCH64 = 183;

describe('scripts/setup-arm64.sh', () => {
  it('is idempotent: a second run on a complete cache fetches and installs nothing', () => {
    const run = spawnSync(join(repoRoot, 'scripts', 'setup-arm64.sh'), [cacheDir], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /fetching|installing|adding/, run.stderr);
    assert.match(run.stderr, /^setup: arm64 ready: headers linux-headers-6\.1\.\S+-arm64 linux-headers-6\.12\.\S+-arm64 guest kernel 6\.1\.\S+-arm64$/m);
  });

  it('points the arm64 headers\' scripts and tools at the installed kbuild, whose host tools run here', () => {
    const headers = installedHeaders('aarch64');
    assert.equal(headers.length, 2, headers.join(', '));
    for (const dir of headers) {
      for (const link of ['scripts', 'tools']) assert.match(readlinkSync(join(dir, link)), /^\/usr\/lib\/linux-kbuild-[^/]+\/(scripts|tools)$/);
      const fixdep = join(dir, 'scripts', 'basic', 'fixdep');
      assert.equal(spawnSync(fixdep, [], { encoding: 'utf8' }).error, undefined, `${fixdep} does not run`);
    }
  });

  it('caches the arm64 guest kernel and an arm64 userspace', () => {
    const [version] = cachedKernelVersions('aarch64');
    assert.match(version ?? '', /^6\.1\.\S+-arm64$/);
    const { userRoot, kernelsDir } = archProfile('aarch64');
    assert.ok(existsSync(join(kernelsDir, version ?? '', 'lib', 'modules', version ?? '', 'modules.dep')));
    for (const binary of ['bin/busybox', 'usr/bin/gpiomon', 'lib/ld-linux-aarch64.so.1']) {
      assert.equal(readFileSync(join(userRoot, binary)).readUInt16LE(18), EM_AARCH64, `${binary} is not AArch64 code`);
    }
  });
});
