/**
 * Builds out-of-tree kernel modules for the tests: the sources are copied
 * to a fresh temporary folder (so builds against different headers never
 * share objects) and built with the kernel's own make, W=1.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archProfile, type GuestArch } from './arch.ts';
import { repoRoot } from './kernel.ts';

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

/**
 * The Debian headers trees for `arch` (linux-headers-<version>-<flavour>),
 * oldest first: installed in /usr/src for x86_64, unpacked into the cache
 * by scripts/setup-arm64.sh for aarch64.
 */
export function installedHeaders(arch: GuestArch = 'x86_64'): string[] {
  const root = archProfile(arch).headersRoot;
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => d.startsWith('linux-headers-') && existsSync(join(root, d, 'Module.symvers')))
    .map((d) => join(root, d))
    .sort();
}

/**
 * Copies the module sources in `srcDir` (*.c, *.h, Kbuild, Makefile) and
 * builds `name`.ko against the headers in `headersDir` (undefined: the
 * Makefile's default), cross-compiled for `arch` when it is not the host's.
 * Throws with make's output when the build fails.
 */
export function buildModule(srcDir: string, name: string, headersDir: string | undefined, arch: GuestArch = 'x86_64'): ModuleBuild {
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
  const { crossCompile, kernelArch } = archProfile(arch);
  const cross = crossCompile === '' ? '' : `ARCH=${kernelArch} CROSS_COMPILE=${crossCompile}`;
  const make = spawnSync('sh', ['-c', `make ${kdir} ${cross} W=1 2>&1`], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
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

/** vgpio.ko for the given headers (of an `arch` kernel). */
export function buildVgpio(headersDir: string, arch: GuestArch = 'x86_64'): ModuleBuild {
  return buildModule(kernelSourceDir, 'vgpio', headersDir, arch);
}
