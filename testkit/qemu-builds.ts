/**
 * The QEMU versions the x86_64 guests are tested on: Debian 12's own 7.2
 * (installed, /usr/bin), the default, and 10.0 from bookworm-backports,
 * which scripts/setup-qemu10.sh unpacks into <cache>/qemu-10 without
 * installing it, so both stay usable side by side. A guest picks one with Guest.boot's
 * `qemu` option, else $VGPIO_QEMU (x86_64 guests only), else 7.2.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { GuestArch } from './arch.ts';
import { cacheDir } from './paths.ts';

export type QemuVersion = '7.2' | '10.0';

export const QEMU_VERSIONS: readonly QemuVersion[] = ['7.2', '10.0'];

/** Where scripts/setup-qemu10.sh unpacks QEMU 10.0's packages. */
const QEMU_10 = join(cacheDir, 'qemu-10');

export interface QemuBuild {
  version: QemuVersion;
  /** The qemu-system-* binary to run. */
  binary: string;
  /** Options that come before the guest's own. */
  args: string[];
}

function parseVersion(text: string): QemuVersion {
  const found = QEMU_VERSIONS.find((v) => v === text);
  if (found === undefined) throw new Error(`unknown QEMU version '${text}' in VGPIO_QEMU (use ${QEMU_VERSIONS.join(' or ')})`);
  return found;
}

/** The QEMU `version` (default: $VGPIO_QEMU for x86_64, else 7.2) for guests of `arch`, whose binary is `installed`. */
export function qemuBuild(arch: GuestArch, installed: string, version?: QemuVersion): QemuBuild {
  const want = version ?? (arch === 'x86_64' && process.env.VGPIO_QEMU !== undefined ? parseVersion(process.env.VGPIO_QEMU) : '7.2');
  if (want === '7.2') return { version: want, binary: installed, args: [] };
  if (arch !== 'x86_64') throw new Error(`QEMU ${want} is set up for x86_64 guests only, not ${arch}`);
  const binary = join(QEMU_10, 'usr', 'bin', installed);
  if (!existsSync(binary)) throw new Error(`no QEMU ${want} at ${binary}; run scripts/setup.sh`);
  // Its own option ROMs and keymaps first: the binary's built-in data folder
  // is /usr/share/qemu, which holds the installed 7.2's. BIOS and iPXE ROMs
  // come from the installed seabios and ipxe-qemu folders it searches next.
  return { version: want, binary, args: ['-L', join(QEMU_10, 'usr', 'share', 'qemu')] };
}

/**
 * The QEMU version an x86_64 guest runs on, as the guest sees it: QEMU
 * names its pc machine (pc-i440fx-<version>) in the SMBIOS product version.
 */
export async function machineQemuVersion(guest: { exec: (command: string) => Promise<string> }): Promise<string> {
  const machine = (await guest.exec('cat /sys/class/dmi/id/product_version')).trim();
  return /^pc-i440fx-(\d+\.\d+)$/.exec(machine)?.[1] ?? `unknown (${machine})`;
}

/**
 * The guests a test file runs its tests on when it covers both QEMU
 * versions: each architecture on 7.2, and x86_64 on 10.0 as well.
 */
export const GUEST_BUILDS: readonly { arch: GuestArch; qemu: QemuVersion }[] = [
  { arch: 'x86_64', qemu: '7.2' },
  { arch: 'aarch64', qemu: '7.2' },
  { arch: 'x86_64', qemu: '10.0' },
];
