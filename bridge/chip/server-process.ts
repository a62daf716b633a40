/**
 * How a server-mode chip reaches its long-lived ivshmem server
 * (ivshmem-daemon.ts): join the server listening on the chip's socket as
 * a peer, and when nobody listens there, start one (detached, so it
 * outlives this bridge) and join it. A server that is already running
 * must serve the chip's shared-memory file with the chip's size and
 * vector count; anything else is an error naming what differs.
 */
import { spawn } from 'node:child_process';
import { fstatSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { IvshmemClient } from '../../native/index.ts';

export interface ServerSpec {
  socket: string;
  shm: string;
  size: number;
  vectors: number;
  socketMode: number;
  /** How long the server waits with no peer at all before it exits. */
  idleMs: number;
}

/** The line the server prints once it listens: `ready <pid>`. */
export const DAEMON_READY = 'ready';
/** A started server with no peer exits after this long (a bridge restart takes less). */
export const SERVER_IDLE_MS = 10_000;
const START_TIMEOUT_MS = 15_000;

export function pidFile(socket: string): string {
  return `${socket}.pid`;
}

export function daemonArgs(spec: ServerSpec): string[] {
  return [
    '--socket', spec.socket, '--shm', spec.shm, '--size', String(spec.size), '--vectors', String(spec.vectors),
    '--socket-mode', String(spec.socketMode), '--idle-ms', String(spec.idleMs),
  ];
}

export function parseDaemonArgs(args: string[]): ServerSpec {
  const option = { type: 'string' } as const;
  const { values } = parseArgs({ args, options: { socket: option, shm: option, size: option, vectors: option, 'socket-mode': option, 'idle-ms': option }, strict: true });
  const text = (name: keyof typeof values): string => {
    const value = values[name];
    if (value === undefined || value === '') throw new Error(`--${name} is required`);
    return value;
  };
  const integer = (name: keyof typeof values): number => {
    const value = Number(text(name));
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer, got ${text(name)}`);
    return value;
  };
  return { socket: text('socket'), shm: text('shm'), size: integer('size'), vectors: integer('vectors'), socketMode: integer('socket-mode'), idleMs: integer('idle-ms') };
}

/** The command that runs the server: this same Node, and tsx when we run from TypeScript sources. */
function daemonCommand(spec: ServerSpec): string[] {
  const fromSources = import.meta.url.endsWith('.ts');
  const entry = new URL(`./ivshmem-daemon.${fromSources ? 'ts' : 'js'}`, import.meta.url).pathname;
  return [...(fromSources ? ['--import', import.meta.resolve('tsx')] : []), entry, ...daemonArgs(spec)];
}

/** Starts the server detached; resolves with its pid once it listens, rejects with its error otherwise. */
export function startServer(spec: ServerSpec): Promise<number> {
  const child = spawn(process.execPath, daemonCommand(spec), { detached: true, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const finish = (error: Error | undefined, pid?: number): void => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      if (error === undefined && pid !== undefined) resolve(pid);
      else reject(error ?? new Error('no pid'));
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(new Error(`the ivshmem server did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
      const ready = new RegExp(`^${DAEMON_READY} (\\d+)$`, 'm').exec(out);
      if (ready !== null) finish(undefined, Number(ready[1]));
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => (err += text));
    child.once('error', (error) => {
      finish(error);
    });
    child.once('exit', (code, signal) => {
      finish(new Error(err.trim() || `the ivshmem server exited (${signal ?? `code ${String(code)}`}) before it listened`));
    });
  });
}

/** True when connecting failed because nothing listens on the socket (no file, or a dead server's). */
function nobodyListens(error: unknown): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  const code = cause instanceof Error && 'code' in cause ? cause.code : undefined;
  return code === 'ENOENT' || code === 'ECONNREFUSED';
}

/** The running server must be the one this chip's configuration describes. */
function checkServer(client: IvshmemClient, spec: ServerSpec): void {
  const differs = (what: string): never => {
    throw new Error(`the ivshmem server running on ${spec.socket} ${what}; stop it (kill $(cat ${pidFile(spec.socket)})) after stopping its guests, or fix the configuration`);
  };
  if (client.shm.size !== spec.size) differs(`serves ${client.shm.size} bytes of shared memory, the configuration says ${spec.size}`);
  if (client.vectors !== spec.vectors) differs(`gives ${client.vectors} vector(s) per peer, the configuration says ${spec.vectors}`);
  const served = fstatSync(client.shm.fd);
  let configured;
  try {
    configured = statSync(spec.shm);
  } catch {
    configured = undefined;
  }
  if (configured?.ino !== served.ino || configured.dev !== served.dev) differs(`does not serve ${spec.shm}`);
}

async function join(spec: ServerSpec): Promise<IvshmemClient> {
  const client = await IvshmemClient.connect(spec.socket);
  try {
    checkServer(client, spec);
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

/**
 * Joins the chip's server, starting it first when nobody listens on the
 * socket. `started` is called with the pid of a server this call started.
 */
export async function joinOrStartServer(spec: ServerSpec, started: (pid: number) => void): Promise<IvshmemClient> {
  try {
    return await join(spec);
  } catch (error) {
    if (!nobodyListens(error)) throw error;
  }
  let startError: unknown;
  try {
    started(await startServer(spec));
  } catch (error) {
    // Another bridge may have started it meanwhile: then joining works.
    startError = error;
  }
  try {
    return await join(spec);
  } catch (error) {
    throw nobodyListens(error) && startError !== undefined ? startError : error;
  }
}
