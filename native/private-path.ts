/**
 * Where the bridge's sockets and shared memory may live: only where no
 * other local user can create, replace or open them. Another user who can
 * write the folder (a `/tmp/vgpio2mqtt` they made, mode 0777) could swap the
 * socket QEMU connects to for their own; a shared-memory file they made is
 * one they can write into. So:
 *
 * - the bridge's own runtime folder is created 0700; an existing one must
 *   be a real folder (not a symlink) owned by this process's user and
 *   writable by nobody else;
 * - any other folder a socket or shared-memory file goes into must be owned
 *   by this user or root, and writable by nobody else unless it is sticky
 *   (like /tmp and /dev/shm, where others cannot remove or rename our files);
 * - an existing socket or file there must be owned by this user (the
 *   shared-memory file is also checked on its open fd by the addon, which
 *   opens it with O_NOFOLLOW and creates it with O_EXCL).
 *
 * Each refusal is an Error whose message names the path, its owner and
 * mode, and what to do.
 */
import { lstatSync, mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

const GROUP_OR_OTHER_WRITE = 0o022;
const STICKY = 0o1000;

function uid(): number {
  // Linux only (the addon is Linux-only too): geteuid exists.
  return process.geteuid?.() ?? 0;
}

function describe(stats: Stats): string {
  return `owner uid ${stats.uid}, mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')}`;
}

function code(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** The stats of `path` without following a symlink; undefined if nothing is there. */
function lstatOrNothing(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if (code(error) === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Creates the bridge's own runtime folder (mode 0700; its parent must
 * exist), or checks an existing one: a folder, not a symlink, owned by this
 * user, writable by nobody else.
 */
export function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if (code(error) === 'ENOENT') throw new Error(`cannot create the runtime folder ${dir}: ${dirname(dir)} does not exist`, { cause: error });
    if (code(error) !== 'EEXIST') throw new Error(`cannot create the runtime folder ${dir}: ${String(error)}`, { cause: error });
  }
  const stats = lstatSync(dir);
  const problem = !stats.isDirectory()
    ? 'it is not a folder (a symlink or a file)'
    : stats.uid !== uid()
      ? `it belongs to another user (${describe(stats)}; this process runs as uid ${uid()})`
      : (stats.mode & GROUP_OR_OTHER_WRITE) !== 0
        ? `other users may write into it (${describe(stats)})`
        : undefined;
  if (problem !== undefined) {
    throw new Error(`refusing the runtime folder ${dir}: ${problem}; remove it (the bridge creates it with mode 0700) or set another folder`);
  }
}

/**
 * Checks the folder a socket or shared-memory file goes into (see the
 * module comment). A missing folder passes: creating the file in it fails
 * and says so.
 */
export function checkFolder(dir: string): void {
  let stats: Stats;
  try {
    stats = statSync(dir);
  } catch (error) {
    if (code(error) === 'ENOENT') return;
    throw error;
  }
  if (!stats.isDirectory()) return;
  if (stats.uid !== uid() && stats.uid !== 0) {
    throw new Error(`refusing folder ${dir}: it belongs to another user (${describe(stats)}; this process runs as uid ${uid()}), who could replace what the bridge puts there`);
  }
  if ((stats.mode & GROUP_OR_OTHER_WRITE) !== 0 && (stats.mode & STICKY) === 0) {
    throw new Error(`refusing folder ${dir}: other users may write into it and it is not sticky (${describe(stats)}), so they could replace what the bridge puts there`);
  }
}

/** Checks an existing path the bridge is about to reuse or replace: it must be this user's. Nothing there is fine. */
export function checkOwnPath(path: string, what: string): void {
  const stats = lstatOrNothing(path);
  if (stats === undefined) return;
  if (stats.uid !== uid()) {
    throw new Error(`refusing ${what} ${path}: it belongs to another user (${describe(stats)}; this process runs as uid ${uid()}); remove it or choose another path`);
  }
}

/**
 * Everything the bridge checks before it creates or reuses `path` (a
 * socket or a shared-memory file): its own runtime folder `runtimeDir` is
 * created when `path` is in it; the folder is checked; an existing file
 * there must be this user's.
 */
export function preparePrivatePath(path: string, runtimeDir: string, what: string): void {
  const dir = dirname(path);
  if (dir === runtimeDir) ensurePrivateDir(dir);
  else checkFolder(dir);
  checkOwnPath(path, what);
}
