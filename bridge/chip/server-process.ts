/**
 * How a server-mode chip reaches its long-lived ivshmem server
 * (ivshmem-daemon.ts): join the server listening on the chip's socket as
 * a peer, and when nobody listens there, start one (detached, so it
 * outlives this bridge) and join it. At bridge start one process is
 * started for all the chips that need a server, not one per chip. A server that is already running
 * must serve the chip's shared-memory file with the chip's size and
 * vector count; anything else is an error naming what differs.
 */
import { spawn } from 'node:child_process';
import { fstatSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
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

/** What the server process prints once, on stdout: its pid and, by socket, the servers that could not start. */
export interface DaemonReport {
  pid: number;
  failed: Record<string, string>;
}

/** A started server with no peer closes after this long (a bridge restart takes less); see releaseServers for when that clock starts. */
export const SERVER_IDLE_MS = 10_000;
const START_TIMEOUT_MS = 15_000;

export function pidFile(socket: string): string {
  return `${socket}.pid`;
}

export function daemonArgs(specs: readonly ServerSpec[]): string[] {
  return ['--servers', JSON.stringify(specs)];
}

function checkSpec(value: unknown, index: number): ServerSpec {
  const spec = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const text = (name: string): string => {
    const v = spec[name];
    if (typeof v !== 'string' || v === '') throw new Error(`server ${index}: ${name} must be a path, got ${JSON.stringify(v)}`);
    return v;
  };
  const integer = (name: string): number => {
    const v = spec[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`server ${index}: ${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return v;
  };
  return { socket: text('socket'), shm: text('shm'), size: integer('size'), vectors: integer('vectors'), socketMode: integer('socketMode'), idleMs: integer('idleMs') };
}

export function parseDaemonArgs(args: string[]): ServerSpec[] {
  const { values } = parseArgs({ args, options: { servers: { type: 'string' } }, strict: true });
  let list: unknown;
  try {
    list = JSON.parse(values.servers ?? '');
  } catch {
    throw new Error('--servers must be a JSON list of servers');
  }
  if (!Array.isArray(list) || list.length === 0) throw new Error('--servers must be a non-empty JSON list of servers');
  return list.map(checkSpec);
}

/** The command that runs the servers: this same Node, and tsx when we run from TypeScript sources. */
function daemonCommand(specs: readonly ServerSpec[]): string[] {
  const fromSources = import.meta.url.endsWith('.ts');
  const entry = new URL(`./ivshmem-daemon.${fromSources ? 'ts' : 'js'}`, import.meta.url).pathname;
  return [...(fromSources ? ['--import', import.meta.resolve('tsx')] : []), entry, ...daemonArgs(specs)];
}

/** A started server process, held by the bridge that started it until release(). */
export interface StartedServers {
  report: DaemonReport;
  /**
   * Lets go of the process: the idle time of its servers that no peer has
   * joined starts now (ivshmem-daemon.ts), not when they started, so opening
   * many chips however slowly never outlasts it. Also happens when this
   * process exits. Safe to call more than once.
   */
  release: () => void;
}

/**
 * Starts one detached process serving `specs`; resolves with its report
 * once it has tried them all, rejects when it could not run at all. The
 * process's stdin is the hold: it stays open, unreferenced, until release().
 */
export function startServers(specs: readonly ServerSpec[]): Promise<StartedServers> {
  const child = spawn(process.execPath, daemonCommand(specs), { detached: true, stdio: ['pipe', 'pipe', 'pipe'], cwd: '/' });
  const release = (): void => {
    child.stdin.destroy();
  };
  // The server process may be gone (or never run) when we let go: nothing to tell it then.
  child.stdin.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const finish = (result: DaemonReport | Error): void => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      if (result instanceof Error) {
        release();
        reject(result);
      } else {
        (child.stdin as unknown as { unref(): void }).unref();
        resolve({ report: result, release });
      }
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(new Error(`the ivshmem server process did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
      if (out.endsWith('\n')) finish(JSON.parse(out) as DaemonReport);
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => (err += text));
    child.once('error', (error) => {
      finish(error);
    });
    child.once('exit', (code, signal) => {
      finish(new Error(err.trim() || `the ivshmem server process exited (${signal ?? `code ${String(code)}`}) before it reported`));
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

/** Whether a server accepts connections on `socket` (a connection that joins nobody: it hangs up at once). */
function listening(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(socket, () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => {
      resolve(false);
    });
  });
}

/**
 * Starts, in one process, a server for every spec whose socket nobody
 * serves; `started` hears about it. Chips then join them one by one
 * (joinOrStartServer), and the caller calls the returned release() once
 * they all have (StartedServers.release). Errors are left for the chips to
 * report.
 */
export async function startMissingServers(specs: readonly ServerSpec[], started: (report: DaemonReport, sockets: string[]) => void): Promise<() => void> {
  const probed = await Promise.all(specs.map(async (spec) => ((await listening(spec.socket)) ? undefined : spec)));
  const missing = probed.filter((spec) => spec !== undefined);
  if (missing.length === 0) return () => undefined;
  const servers = await startServers(missing).catch(() => undefined);
  if (servers === undefined) return () => undefined;
  started(servers.report, missing.map((s) => s.socket).filter((s) => !(s in servers.report.failed)));
  return servers.release;
}

/**
 * Joins the chip's server, starting it first when nobody listens on the
 * socket; `started` hears about a server this call started.
 */
export async function joinOrStartServer(spec: ServerSpec, started: (report: DaemonReport, sockets: string[]) => void): Promise<IvshmemClient> {
  try {
    return await join(spec);
  } catch (error) {
    if (!nobodyListens(error)) throw error;
  }
  let startError: unknown;
  let release = (): void => undefined;
  try {
    const servers = await startServers([spec]);
    release = servers.release;
    const failed = servers.report.failed[spec.socket];
    if (failed === undefined) started(servers.report, [spec.socket]);
    else startError = new Error(failed);
  } catch (error) {
    startError = error;
  }
  try {
    return await join(spec);
  } catch (error) {
    // Another bridge may have started it meanwhile: then joining works; otherwise say why ours did not start.
    throw nobodyListens(error) && startError !== undefined ? startError : error;
  } finally {
    release();
  }
}

/**
 * Stops the server process serving `socket` (SIGTERM), and with it every
 * other server it runs; resolves once the process has exited. False when no
 * server of ours runs there: no pid file, or its pid is no longer our
 * server (a stale file is never trusted to name a process to kill).
 */
export async function stopServer(socket: string, timeoutMs = 10_000): Promise<boolean> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile(socket), 'utf8'));
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!command.includes('ivshmem-daemon') || !command.includes(JSON.stringify(socket).slice(1, -1))) return false;
  } catch {
    return false;
  }
  process.kill(pid, 'SIGTERM');
  const running = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  // Until the process is gone, not only its socket: it still holds the shared memory until it exits.
  for (const deadline = Date.now() + timeoutMs; running(); ) {
    if (Date.now() > deadline) throw new Error(`the ivshmem server process ${pid} did not stop within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
