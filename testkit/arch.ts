/**
 * The guest architectures the harness boots, and everything that differs
 * between them: the QEMU binary and machine, the serial console, the cross
 * compiler for guest programs and modules, and where the guest kernels and
 * the guest userspace come from (x86_64: the host's own files; aarch64: what
 * scripts/setup-arm64.sh unpacked into the cache).
 */
import { join } from 'node:path';
import { cacheDir } from './paths.ts';

export type GuestArch = 'x86_64' | 'aarch64';

export const GUEST_ARCHES: readonly GuestArch[] = ['x86_64', 'aarch64'];

export interface ArchProfile {
  arch: GuestArch;
  /** Debian's name for it, which is also the kernel flavour: amd64, arm64. */
  debian: 'amd64' | 'arm64';
  /** The kernel's ARCH= for an out-of-tree module build. */
  kernelArch: 'x86' | 'arm64';
  /** The gcc prefix for guest programs and modules; '' builds with the host's. */
  crossCompile: string;
  qemu: string;
  /** Machine and CPU options for `cpu` (see defaultCpu). */
  machine: (cpu: string) => string[];
  /** The CPU model QEMU emulates unless a guest asks for another. */
  defaultCpu: string;
  /** The serial console's tty name (kernel console= and /dev/<console>). */
  console: string;
  /** The interrupt chip /proc/interrupts names for a PCI device's MSI-X vector. */
  msiChip: string;
  /** Where the guest's userspace binaries come from: a path /usr/bin/x is <userRoot>/usr/bin/x. */
  userRoot: string;
  /** Folders (inside userRoot) searched for the shared libraries a guest binary links. */
  libDirs: string[];
  /** The folder of cached guest kernels, one <version>/ each. */
  kernelsDir: string;
  /** The folder of headers trees, one linux-headers-<version>/ per kernel version, to build modules against. */
  headersRoot: string;
}

const PROFILES: Record<GuestArch, ArchProfile> = {
  x86_64: {
    arch: 'x86_64',
    debian: 'amd64',
    kernelArch: 'x86',
    crossCompile: '',
    qemu: 'qemu-system-x86_64',
    // QEMU's default pc machine and CPU (qemu64) are what the x86 tests always ran on.
    machine: (cpu) => (cpu === '' ? [] : ['-cpu', cpu]),
    defaultCpu: '',
    console: 'ttyS0',
    msiChip: 'PCI-MSI',
    userRoot: '/',
    libDirs: ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64'],
    kernelsDir: join(cacheDir, 'guest-kernel'),
    headersRoot: '/usr/src',
  },
  aarch64: {
    arch: 'aarch64',
    debian: 'arm64',
    kernelArch: 'arm64',
    crossCompile: 'aarch64-linux-gnu-',
    qemu: 'qemu-system-aarch64',
    // GICv3 for an ITS, which is what gives PCIe devices (ivshmem's MSI-X) their MSIs.
    machine: (cpu) => ['-M', 'virt,gic-version=3', '-cpu', cpu],
    // `max` has LSE atomics (cortex-a57 has only load/store-exclusive loops);
    // pauth-impdef: QEMU's own pointer-authentication hash, much cheaper
    // under TCG than the architected QARMA (boot in ~2.4 s instead of ~7.5 s).
    defaultCpu: 'max,pauth-impdef=on',
    console: 'ttyAMA0',
    // Through the GICv3's ITS.
    msiChip: 'ITS-MSI',
    userRoot: join(cacheDir, 'arm64', 'root'),
    libDirs: ['/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu'],
    kernelsDir: join(cacheDir, 'arm64', 'guest-kernel'),
    headersRoot: join(cacheDir, 'arm64', 'headers'),
  },
};

export function archProfile(arch: GuestArch = 'x86_64'): ArchProfile {
  return PROFILES[arch];
}

/** The guest's serial console device, for guest commands that write to the console. */
export function consoleDevice(arch: GuestArch = 'x86_64'): string {
  return `/dev/${PROFILES[arch].console}`;
}

/** Parses a user's --arch value: the GuestArch names, or Debian's and the kernel's (amd64, x86, arm64). */
export function parseGuestArch(text: string): GuestArch {
  const found = GUEST_ARCHES.find((a) => a === text || PROFILES[a].debian === text || PROFILES[a].kernelArch === text);
  if (found === undefined) throw new Error(`unknown guest architecture '${text}' (use ${GUEST_ARCHES.join(' or ')}, or amd64, arm64)`);
  return found;
}
