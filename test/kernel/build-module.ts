/**
 * Builds out-of-tree kernel modules for the tests: the sources are copied
 * to a fresh temporary folder (so builds against different headers never
 * share objects) and built with the kernel's own make, W=1.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/kernel.ts';

export const kernelSourceDir = join(repoRoot, 'kernel');

export interface ModuleBuild {
  /** The built .ko. */
  ko: string;
  /** Everything make printed (stdout and stderr, interleaved). */
  output: string;
  /** Compiler and modpost warnings found in the output. */
  warnings: string[];
  /** Removes the build folder. */
  remove: () => void;
}

/** The installed Debian headers trees (/usr/src/linux-headers-<version>-<flavour>), oldest first. */
export function installedHeaders(): string[] {
  return readdirSync('/usr/src')
    .filter((d) => d.startsWith('linux-headers-') && existsSync(join('/usr/src', d, 'Module.symvers')))
    .map((d) => join('/usr/src', d))
    .sort();
}

/**
 * Copies the module sources in `srcDir` (*.c, *.h, Kbuild, Makefile) and
 * builds `name`.ko against the headers in `headersDir` (undefined: the
 * Makefile's default). Throws with make's output when the build fails.
 */
export function buildModule(srcDir: string, name: string, headersDir: string | undefined): ModuleBuild {
  if (headersDir !== undefined && !existsSync(headersDir)) {
    throw new Error(`kernel headers ${headersDir} are not installed: run scripts/setup.sh`);
  }
  const dir = mkdtempSync(join(tmpdir(), `vgpio-build-${name}-`));
  for (const file of readdirSync(srcDir)) {
    if (/\.(c|h)$/.test(file) || file === 'Kbuild' || file === 'Makefile') copyFileSync(join(srcDir, file), join(dir, file));
  }
  // The protocol header lives in kernel/ only; test modules include it too.
  if (!existsSync(join(dir, 'vgpio_shm.h'))) copyFileSync(join(kernelSourceDir, 'vgpio_shm.h'), join(dir, 'vgpio_shm.h'));
  const kdir = headersDir === undefined ? '' : `KDIR='${headersDir}'`;
  const make = spawnSync('sh', ['-c', `make ${kdir} W=1 2>&1`], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
  const output = make.stdout;
  const remove = (): void => { rmSync(dir, { recursive: true, force: true }); };
  const ko = join(dir, `${name}.ko`);
  if (make.status !== 0 || !existsSync(ko)) {
    remove();
    throw new Error(`building ${name}.ko against ${headersDir ?? 'the default headers'} failed (exit ${String(make.status)}):\n${output}`);
  }
  const warnings = output.split('\n').filter((l) => /warning:|WARNING:/.test(l));
  return { ko, output, warnings, remove };
}

/** vgpio.ko for the given headers. */
export function buildVgpio(headersDir: string): ModuleBuild {
  return buildModule(kernelSourceDir, 'vgpio', headersDir);
}
