/**
 * Finds the guest kernels scripts/setup.sh cached, per architecture (see
 * ArchProfile.kernelsDir): each <version>/ holds boot/vmlinuz-<version> and
 * lib/modules/<version>/ (with modules.dep).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { archProfile, type GuestArch } from './arch.ts';

export { cacheDir, repoRoot } from './paths.ts';

export interface GuestKernel {
  arch: GuestArch;
  version: string;
  vmlinuz: string;
  modulesDir: string;
  /** The headers tree to build modules for this kernel against (Debian's /usr/src/linux-headers-<version> on x86_64). */
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

export function cachedKernelVersions(arch: GuestArch = 'x86_64'): string[] {
  const dir = archProfile(arch).kernelsDir;
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((v) => !v.endsWith('.partial') && existsSync(join(dir, v, 'boot', `vmlinuz-${v}`)))
    .sort(compareVersions);
}

/**
 * The kernel `version` (a full version, or a prefix such as "6.1"), else
 * $VGPIO_GUEST_KERNEL (x86_64 only), else the oldest cached one (Debian 12's
 * own 6.1), for guests of `arch`.
 */
export function guestKernel(version?: string, arch: GuestArch = 'x86_64'): GuestKernel {
  const profile = archProfile(arch);
  const versions = cachedKernelVersions(arch);
  const want = version ?? (arch === 'x86_64' ? process.env.VGPIO_GUEST_KERNEL : undefined);
  const chosen = want === undefined ? versions[0] : versions.find((v) => v === want || v.startsWith(`${want}.`));
  if (chosen === undefined) {
    const have = versions.length > 0 ? versions.join(', ') : 'none';
    throw new Error(
      `no cached ${arch} guest kernel${want === undefined ? '' : ` matching ${want}`} in ${profile.kernelsDir} (have: ${have}); run scripts/setup.sh`,
    );
  }
  const base = join(profile.kernelsDir, chosen);
  return {
    arch,
    version: chosen,
    vmlinuz: join(base, 'boot', `vmlinuz-${chosen}`),
    modulesDir: join(base, 'lib', 'modules', chosen),
    headersDir: join(profile.headersRoot, `linux-headers-${chosen}`),
  };
}
