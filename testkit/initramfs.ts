/**
 * Builds a gzip-compressed cpio ("newc") initramfs for test guests: the
 * static busybox as userspace, kernel modules from the cached guest image
 * (dependencies resolved from its modules.dep and loaded in order at boot),
 * binaries of the guest's architecture with the shared libraries they link,
 * and any other files. The kernel's architecture picks the busybox, the
 * binaries' root and the console (see arch.ts).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { archProfile, consoleDevice, type ArchProfile } from './arch.ts';
import type { GuestKernel } from './kernel.ts';

export interface GuestFile {
  /** Absolute path inside the guest. */
  dest: string;
  /** Host file to copy; or give `content`. */
  src?: string;
  content?: string | Buffer;
  mode?: number;
}

export interface InitramfsOptions {
  kernel: GuestKernel;
  /** Module names from the guest image (e.g. `virtio_console`); loaded at boot with their dependencies. */
  modules?: string[];
  /**
   * Executables copied to the same path in the guest, with the shared
   * libraries they link: taken from the architecture's userspace root (the
   * host's own / for x86_64, scripts/setup-arm64.sh's arm64 root for aarch64).
   */
  binaries?: string[];
  files?: GuestFile[];
  /** Shell lines the init script runs before it starts the console shell. */
  initCommands?: string[];
}

const BUSYBOX = '/bin/busybox';

/** Marker the init script prints when the console shell is ready for commands. */
export const READY_MARKER = 'VGPIO-GUEST-READY';
/** Marker the init script prints when the console shell exited and a new one starts. */
export const SHELL_RESTARTED_MARKER = 'VGPIO-GUEST-SHELL-RESTARTED';

/** Module names, in load order, for `wanted` and everything they depend on. */
export function resolveModules(kernel: GuestKernel, wanted: string[]): string[] {
  const dep = new Map<string, string[]>();
  const byName = new Map<string, string>();
  const text = readFileSync(join(kernel.modulesDir, 'modules.dep'), 'utf8');
  for (const line of text.split('\n')) {
    const [mod, deps] = line.split(':');
    if (mod === undefined || deps === undefined) continue;
    dep.set(mod, deps.trim() === '' ? [] : deps.trim().split(/\s+/));
    byName.set(moduleName(mod), mod);
  }
  const order: string[] = [];
  const visit = (path: string): void => {
    if (order.includes(path)) return;
    // modules.dep lists every transitive dependency; loading them deepest-first
    // means visiting each one's own list before it.
    for (const d of dep.get(path) ?? []) visit(d);
    order.push(path);
  };
  for (const name of wanted) {
    const path = byName.get(name.replace(/-/g, '_'));
    if (path === undefined) {
      throw new Error(`module ${name} is not in ${kernel.version}'s modules.dep (built in, or misspelt?)`);
    }
    visit(path);
  }
  return order;
}

function moduleName(path: string): string {
  return basename(path).replace(/\.ko(\.[a-z]+)?$/, '').replace(/-/g, '_');
}

/** The program interpreter and the NEEDED entries of an ELF file (any architecture: readelf reads them all). */
function elfDependencies(file: string): { interpreter: string | undefined; needed: string[] } {
  const out = execFileSync('readelf', ['-dlW', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const interpreter = /Requesting program interpreter: (\S+?)\]/.exec(out)?.[1];
  const needed = [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1] ?? '');
  return { interpreter, needed };
}

/**
 * Guest paths of the shared libraries (and the loader) `binary` needs,
 * transitively, found in the profile's library folders under its root.
 */
function sharedLibraries(profile: ArchProfile, binary: string): string[] {
  const found = new Set<string>();
  const visit = (file: string): void => {
    const { interpreter, needed } = elfDependencies(file);
    if (interpreter !== undefined) found.add(interpreter);
    for (const name of needed) {
      const path = profile.libDirs.map((d) => join(d, name)).find((p) => existsSync(join(profile.userRoot, p)));
      if (path === undefined) throw new Error(`${binary} needs ${name}, which is in none of ${profile.libDirs.join(', ')} under ${profile.userRoot}`);
      if (found.has(path)) continue;
      found.add(path);
      visit(join(profile.userRoot, path));
    }
  };
  visit(binary);
  return [...found];
}

function initScript(tty: string, moduleFiles: string[], initCommands: string[]): string {
  return [
    '#!/bin/busybox sh',
    '/bin/busybox mkdir -p /proc /sys /dev /tmp /run /sbin /usr/bin /usr/sbin',
    '/bin/busybox --install -s',
    'mount -t proc proc /proc',
    'mount -t sysfs sysfs /sys',
    'mount -t devtmpfs devtmpfs /dev',
    'mount -t debugfs debugfs /sys/kernel/debug',
    'mount -t tmpfs tmpfs /tmp',
    ...moduleFiles.map((m) => `insmod /${m} || echo "init: insmod ${basename(m)} failed"`),
    ...initCommands,
    // No echo: the host frames command output with markers and must not see
    // its own input. Not canonical: a command line may be longer than the
    // tty's 4 KiB line buffer.
    `stty -echo -icanon min 1 time 0 -onlcr <${tty} 2>/dev/null`,
    `echo ${READY_MARKER}`,
    // Commands are read and evaluated line by line by a non-interactive
    // shell (no prompt, no job control; Guest.run puts each command in a
    // subshell), which is a child, not PID 1: an
    // interactive busybox sh exits when a background job ends while it idles,
    // and PID 1 exiting panics the guest. Should it ever exit, say so and
    // start another.
    'while :; do',
    `  setsid -c sh -c 'while IFS= read -r line; do eval "$line"; done' <${tty} >${tty} 2>&1`,
    `  echo "${SHELL_RESTARTED_MARKER} ($?)" >${tty}`,
    'done',
    '',
  ].join('\n');
}

/** Writes the initramfs into `workDir` and returns its path. */
export function buildInitramfs(workDir: string, options: InitramfsOptions): string {
  const rootDir = join(workDir, 'root');
  const put = (dest: string, data: Buffer | string, mode: number): void => {
    const path = join(rootDir, dest);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, data);
    chmodSync(path, mode);
  };
  const copy = (src: string, dest: string): void => {
    const path = join(rootDir, dest);
    mkdirSync(dirname(path), { recursive: true });
    copyFileSync(src, path);
  };

  const profile = archProfile(options.kernel.arch);
  const fromRoot = (path: string): string => join(profile.userRoot, path);
  if (!existsSync(fromRoot(BUSYBOX))) throw new Error(`${fromRoot(BUSYBOX)} is missing: run scripts/setup.sh (busybox-static)`);
  copy(fromRoot(BUSYBOX), 'bin/busybox');

  const modules = resolveModules(options.kernel, options.modules ?? []);
  const inGuest = modules.map((m) => `lib/modules/${options.kernel.version}/${m}`);
  for (const [i, m] of modules.entries()) copy(join(options.kernel.modulesDir, m), inGuest[i] ?? m);

  for (const binary of options.binaries ?? []) {
    if (!existsSync(fromRoot(binary))) throw new Error(`guest binary ${fromRoot(binary)} does not exist: run scripts/setup.sh`);
    copy(fromRoot(binary), binary);
    for (const lib of sharedLibraries(profile, fromRoot(binary))) copy(fromRoot(lib), lib);
  }
  for (const file of options.files ?? []) {
    if (file.src !== undefined) {
      copy(file.src, file.dest);
      chmodSync(join(rootDir, file.dest), file.mode ?? 0o755);
    } else {
      put(file.dest, file.content ?? '', file.mode ?? 0o644);
    }
  }
  put('init', initScript(consoleDevice(options.kernel.arch), inGuest, options.initCommands ?? []), 0o755);

  // cpio's newc format with root-owned entries; find's list order puts parents first.
  const cpio = execFileSync('sh', ['-c', 'find . -print0 | cpio --null -o -H newc -R 0:0 --quiet'], {
    cwd: rootDir,
    maxBuffer: 1 << 30,
  });
  const out = join(workDir, 'initramfs.cpio.gz');
  writeFileSync(out, gzipSync(cpio, { level: 1 }));
  return out;
}
