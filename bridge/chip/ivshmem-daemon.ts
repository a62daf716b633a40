/**
 * The long-lived ivshmem server of one server-mode chip, a process of its
 * own so that guests outlive the bridge: QEMU never rejoins a new ivshmem
 * server (not even with `reconnect=1`), so the server QEMU joined must stay.
 * It holds the listening socket, the shared memory and every peer's
 * eventfds; the bridge joins it as a peer and can come and go. It is not a
 * peer itself: it only brokers. Started detached by the bridge
 * (server-process.ts), never by hand.
 *
 * Lifetime: it exits on SIGTERM or SIGINT, or by itself once it has had no
 * peer (no bridge, no guest) for `--idle-ms`. It writes its pid next to the
 * socket (`<socket>.pid`) and removes it and the socket when it exits.
 * It reports "ready <pid>" or its error on stdout/stderr once, while the
 * bridge that started it listens, and never writes anything after that.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { IvshmemServer } from '../../native/index.ts';
import { markStale } from './availability.ts';
import { DAEMON_READY, parseDaemonArgs, pidFile } from './server-process.ts';

async function main(): Promise<void> {
  const spec = parseDaemonArgs(process.argv.slice(2));
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

  let idle: NodeJS.Timeout | undefined;
  const stop = (): void => {
    clearTimeout(idle);
    void server.close().then(() => {
      rmSync(pidPath, { force: true });
      process.exit(0);
    });
  };
  const watchIdle = (): void => {
    clearTimeout(idle);
    idle = server.peers().length === 0 ? setTimeout(stop, spec.idleMs) : undefined;
  };
  server.on('join', watchIdle);
  server.on('leave', (id) => {
    markStale(server.shm, id);
    watchIdle();
  });
  // A full server or a peer that misbehaves is the peer's problem, never a reason to strand the others.
  server.on('error', () => undefined);
  server.on('drop', () => undefined);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => undefined);
  watchIdle();
  process.stdout.write(`${DAEMON_READY} ${process.pid}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
