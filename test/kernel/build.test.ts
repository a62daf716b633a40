/**
 * vgpio.ko builds W=1-clean against Debian 12's 6.1 headers and the 6.12
 * headers from bookworm-backports, for x86_64 and cross-compiled for arm64
 * (the arm64 headers scripts/setup-arm64.sh unpacked), with the Makefile's
 * own defaults, and passes checkpatch --strict without errors.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { buildModule, buildVgpio, installedHeaders, kernelSourceDir, type ModuleBuild } from '../../testkit/build-module.ts';
import { checkpatchScript } from './checkpatch.ts';
import { GUEST_ARCHES, type GuestArch } from '../../testkit/arch.ts';

/** ELF e_machine of each architecture's code. */
const ELF_MACHINE: Record<GuestArch, number> = { x86_64: 62, aarch64: 183 };

const builds: ModuleBuild[] = [];
after(() => {
  for (const b of builds) b.remove();
});

function vermagic(ko: string): string {
  return execFileSync('modinfo', ['-F', 'vermagic', ko], { encoding: 'utf8' }).trim();
}

for (const arch of GUEST_ARCHES) describe(`vgpio.ko build for ${arch}`, () => {
  const headers = installedHeaders(arch);

  it('has both the 6.1 and the 6.12 headers to build against', () => {
    assert.ok(headers.some((h) => basename(h).startsWith('linux-headers-6.1.')), `no 6.1 headers in ${headers.join(', ')}`);
    assert.ok(headers.some((h) => basename(h).startsWith('linux-headers-6.12.')), `no 6.12 headers in ${headers.join(', ')}`);
  });

  for (const dir of headers) {
    const version = basename(dir).replace(/^linux-headers-/, '');
    it(`builds W=1 without a warning against ${version}`, () => {
      const build = buildVgpio(dir, arch);
      builds.push(build);
      assert.deepEqual(build.warnings, [], build.output);
      assert.equal(readFileSync(build.ko).readUInt16LE(18), ELF_MACHINE[arch], `${build.ko} is not ${arch} code`);
      assert.match(vermagic(build.ko), new RegExp(`^${version.replace(/[.+]/g, '\\$&')} `));
      const info = execFileSync('modinfo', [build.ko], { encoding: 'utf8' });
      assert.match(info, /^alias:\s+pci:v00001AF4d00001110sv\*sd\*bc\*sc\*i\*$/m);
      assert.match(info, /^parm:\s+poll_ms:/m);
    });
  }
});

describe('vgpio.ko build with the Makefile\'s defaults', () => {
  it('defaults KDIR to the running or an installed kernel', () => {
    const build = buildModule(kernelSourceDir, 'vgpio', undefined);
    builds.push(build);
    assert.match(build.output, /make -C \/(lib\/modules|usr\/src)\/\S+ M=/);
    assert.match(vermagic(build.ko), /^\d+\.\d+\.\d+/);
  });
});

describe('checkpatch --strict', () => {
  const sources = readdirSync(kernelSourceDir).filter((f) => /^vgpio.*\.[ch]$/.test(f) || f === 'Kbuild' || f === 'Makefile');

  it('covers every driver source', () => {
    for (const f of ['vgpio_pci.c', 'vgpio_gpio.c', 'vgpio_irq.c', 'vgpio_ring.c', 'vgpio.h', 'vgpio_shm.h']) {
      assert.ok(sources.includes(f), `${f} missing from ${sources.join(', ')}`);
    }
  });

  for (const file of sources) {
    it(`reports no errors in kernel/${file}`, () => {
      const script = checkpatchScript();
      const run = spawnSync('perl', [script, '--strict', '--no-tree', '--terse', '--show-types', '-f', file], {
        cwd: kernelSourceDir,
        encoding: 'utf8',
      });
      const errors = run.stdout.split('\n').filter((l) => l.includes(': ERROR:'));
      assert.deepEqual(errors, [], run.stdout);
      // checkpatch exits non-zero on warnings too; only a crash has no total line.
      if (run.stdout.trim() !== '') assert.match(run.stdout, /total: 0 errors/);
    });
  }
});
