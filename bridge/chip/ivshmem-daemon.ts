/**
 * The long-lived ivshmem servers of server-mode chips, in a process of
 * their own so that guests outlive the bridge: QEMU never rejoins a new
 * ivshmem server (not even with `reconnect=1`), so the server QEMU joined
 * must stay. Each server holds its listening socket, the shared memory and
 * every peer's eventfds; the bridge joins it as a peer and can come and go.
 * A server here is not a peer itself: it only brokers. Started detached by
 * the bridge (server-process.ts) for every chip whose socket nobody serves,
 * never by hand.
 *
 * Lifetime: a server closes once it has had no peer (no bridge, no guest)
 * for its idle time, and the process exits when it serves nothing more, or
 * at once on SIGTERM or SIGINT. The idle time of a server nobody has joined
 * yet only starts once the bridge that started the process lets go of it
 * (closes our stdin: it has opened all its chips, or it died), so a bridge
 * that takes long to open many chips never finds a server it started gone. Each server's socket gets a pid file next to
 * it (`<socket>.pid`); both go when that server closes. The process reports
 * once, on stdout, which servers listen and why the others could not
 * (while the bridge that started it listens), and never writes after that.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { IvshmemServer } from '../../native/index.ts';
import { markStale } from './availability.ts';
import { parseDaemonArgs, pidFile, type DaemonReport, type ServerSpec } from './server-process.ts';

const servers = new Set<IvshmemServer>();
/** Idle clocks of servers no peer has joined yet, started once the starting bridge lets go (stdin ends). */
const heldIdle = new Set<() => void>();
let held = true;

function exitWhenEmpty(): void {
  if (servers.size === 0) process.exit(0);
}

async function close(server: IvshmemServer): Promise<void> {
  servers.delete(server);
  await server.close();
  rmSync(pidFile(server.socketPath), { force: true });
}

async function serve(spec: ServerSpec): Promise<void> {
  const server = await IvshmemServer.listen({
    socketPath: spec.socket,
    shmPath: spec.shm,
    shmSize: spec.size,
    vectors: spec.vectors,
    socketMode: spec.socketMode,
    peer: false,
  });
  // No peer can have joined yet: the listening socket is only read on a later turn of the event loop.
  markStale(server.shm);
  const pidPath = pidFile(spec.socket);
  writeFileSync(`${pidPath}.tmp`, `${process.pid}\n`, { mode: 0o600 });
  renameSync(`${pidPath}.tmp`, pidPath);
  servers.add(server);

  let idle: NodeJS.Timeout | undefined;
  let joined = false;
  const watchIdle = (): void => {
    clearTimeout(idle);
    if (server.peers().length > 0) return;
    if (held && !joined) {
      heldIdle.add(watchIdle);
      return;
    }
    idle = setTimeout(() => {
      void close(server).then(exitWhenEmpty);
    }, spec.idleMs);
  };
  server.on('join', () => {
    joined = true;
    watchIdle();
  });
  server.on('leave', (id) => {
    markStale(server.shm, id);
    watchIdle();
  });
  // A full server or a peer that misbehaves is that peer's problem, never a reason to strand the others.
  server.on('error', () => undefined);
  server.on('drop', () => undefined);
  watchIdle();
}

function stop(): void {
  void Promise.all([...servers].map(close)).then(() => process.exit(0));
}

async function main(): Promise<void> {
  const specs = parseDaemonArgs(process.argv.slice(2));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => undefined);
  const letGo = (): void => {
    if (!held) return;
    held = false;
    for (const watch of heldIdle) watch();
    heldIdle.clear();
  };
  process.stdin.on('end', letGo).on('error', letGo).on('close', letGo).resume();
  const report: DaemonReport = { pid: process.pid, failed: {} };
  for (const spec of specs) {
    try {
      await serve(spec);
    } catch (error) {
      report.failed[spec.socket] = error instanceof Error ? error.message : String(error);
    }
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
  exitWhenEmpty();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
