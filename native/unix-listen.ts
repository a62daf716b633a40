/**
 * Listening on a unix socket path the safe way: a stale socket file (its
 * server died) is replaced, but a path where a live server answers, a path
 * that is not a socket, or another user's socket is an error; nothing is
 * ever taken over.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { binding } from './addon.ts';
import { checkOwnPath } from './private-path.ts';

function code(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** A listening, non-blocking socket fd on `path`, whose file gets permissions `mode`. */
export function listenUnix(path: string, mode: number, backlog = 256): number {
  try {
    return binding.unixListen(path, mode, backlog);
  } catch (error) {
    if (code(error) === 'ENOENT') {
      throw new Error(`cannot listen on ${path}: directory ${dirname(path)} does not exist`, { cause: error });
    }
    if (code(error) !== 'EADDRINUSE') throw new Error(`cannot listen on ${path}: ${String(error)}`, { cause: error });
  }
  if (!lstatSync(path).isSocket()) throw new Error(`cannot listen on ${path}: it exists and is not a socket`);
  // Another user's socket is not ours to replace (nor to trust as stale).
  checkOwnPath(path, 'socket');
  try {
    binding.closeFd(binding.unixConnect(path));
  } catch (error) {
    if (code(error) !== 'ECONNREFUSED') throw new Error(`cannot listen on ${path}: ${String(error)}`, { cause: error });
    // Nobody accepts on it: a leftover of a server that died. Replace it.
    unlinkSync(path);
    return binding.unixListen(path, mode, backlog);
  }
  throw new Error(`cannot listen on ${path}: another server is listening on it`);
}
