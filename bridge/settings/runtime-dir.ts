/**
 * The bridge's runtime folder: where its default sockets go. A folder only
 * the bridge's user can write, so no other local user can replace a socket
 * QEMU connects to (native/private-path.ts checks it before use):
 *
 * 1. `$RUNTIME_DIRECTORY`: systemd's `RuntimeDirectory=` (the first, if it
 *    names several), made for this service alone;
 * 2. `$XDG_RUNTIME_DIR/vgpio2mqtt`: the user's login session folder
 *    (`/run/user/<uid>`, mode 0700);
 * 3. `/run/vgpio2mqtt` when running as root;
 * 4. `/tmp/vgpio2mqtt-<uid>` otherwise: per user, created 0700, and refused
 *    if someone else made it first.
 */
import { isAbsolute, join } from 'node:path';

export const RUNTIME_DIR_NAME = 'vgpio2mqtt';

export function defaultRuntimeDir(env: NodeJS.ProcessEnv, uid: number): string {
  const systemd = env.RUNTIME_DIRECTORY?.split(':')[0];
  if (systemd !== undefined && isAbsolute(systemd)) return systemd;
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, RUNTIME_DIR_NAME);
  if (uid === 0) return join('/run', RUNTIME_DIR_NAME);
  return join('/tmp', `${RUNTIME_DIR_NAME}-${uid}`);
}
