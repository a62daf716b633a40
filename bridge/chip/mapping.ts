/**
 * Checks on the file behind a chip's shared memory that keep the bridge
 * from acting on memory that is no longer the file's or from destroying
 * someone else's data: a file truncated under the mapping (an access to
 * what it lost reads zeros from the addon's fault guard instead of raising
 * SIGBUS, but those zeros mean nothing), and a file at the configured path
 * that is not a vgpio region, which is not ours to overwrite.
 */
import { fstatSync, statSync } from 'node:fs';
import { protocol, type SharedMemory } from '../../native/index.ts';

/** Why the memory is no longer the file's (it was truncated), or undefined while it is: an fstat. */
export function truncation(mem: SharedMemory): string | undefined {
  let size: number;
  try {
    size = mem.fileSize();
  } catch (error) {
    return `cannot check the shared-memory file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
  }
  return size < mem.size ? `the shared-memory file was truncated to ${size} bytes under a ${mem.size}-byte mapping` : undefined;
}

/** True when the file at the memory's path is no longer the one mapped (removed or replaced). */
export function vanished(mem: SharedMemory): boolean {
  if (mem.path === undefined) return false;
  try {
    const mapped = fstatSync(mem.fd);
    const there = statSync(mem.path);
    return mapped.ino !== there.ino || mapped.dev !== there.dev;
  } catch {
    return true;
  }
}

/**
 * Refuses memory that holds something other than a vgpio region or zeros
 * (a fresh file): a wrong path in the configuration must not wipe a file.
 */
export function checkNotForeign(mem: Pick<SharedMemory, 'load32' | 'read' | 'size'>, where: string): void {
  const magic = mem.load32(protocol.HDR_MAGIC);
  if (magic === protocol.SHM_MAGIC) return;
  const contents = mem.read(0, mem.size);
  const used = contents.findIndex((byte) => byte !== 0);
  if (used === -1) return;
  throw new Error(
    `${where} holds data that is not a vgpio region (magic 0x${magic.toString(16)}, first non-zero byte at offset ${used}); refusing to overwrite it. Point the chip's shm at another path, or remove the file if it is a leftover`,
  );
}
