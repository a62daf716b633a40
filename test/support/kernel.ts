/**
 * Finds the guest kernels scripts/setup.sh cached: .cache/guest-kernel/<version>/
 * holds boot/vmlinuz-<version> and lib/modules/<version>/ (with modules.dep).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../..');
export const cacheDir = process.env.VGPIO_CACHE ?? join(repoRoot, '.cache');

export interface GuestKernel {
  version: string;
  vmlinuz: string;
  modulesDir: string;
  /** Debian's /usr/src/linux-headers-<version>, to build modules for this kernel. */
  headersDir: string;
}

/** Compares "6.1.0-56-amd64" style versions numerically, part by part. */
function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  const pb = b.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (!Number.isNaN(d) && d !== 0) return d;
  }
  return 0;
}

export function cachedKernelVersions(): string[] {
  const dir = join(cacheDir, 'guest-kernel');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((v) => !v.endsWith('.partial') && existsSync(join(dir, v, 'boot', `vmlinuz-${v}`)))
    .sort(compareVersions);
}

/**
 * The kernel `version` (a full version, or a prefix such as "6.1"), else
 * $VGPIO_GUEST_KERNEL, else the oldest cached one (Debian 12's own 6.1).
 */
export function guestKernel(version?: string): GuestKernel {
  const versions = cachedKernelVersions();
  const want = version ?? process.env.VGPIO_GUEST_KERNEL;
  const chosen = want === undefined ? versions[0] : versions.find((v) => v === want || v.startsWith(`${want}.`));
  if (chosen === undefined) {
    const have = versions.length > 0 ? versions.join(', ') : 'none';
    throw new Error(
      `no cached guest kernel${want === undefined ? '' : ` matching ${want}`} in ${cacheDir}/guest-kernel (have: ${have}); run scripts/setup.sh`,
    );
  }
  const base = join(cacheDir, 'guest-kernel', chosen);
  return {
    version: chosen,
    vmlinuz: join(base, 'boot', `vmlinuz-${chosen}`),
    modulesDir: join(base, 'lib', 'modules', chosen),
    headersDir: `/usr/src/linux-headers-${chosen}`,
  };
}
