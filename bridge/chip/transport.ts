/**
 * Opens what a chip's mode needs: a peer on the chip's own long-lived
 * ivshmem server, started when none runs (server, see server-process.ts),
 * a peer on someone else's server (client), or a bare shared-memory file
 * polled on a timer (plain). Returns the memory, the doorbell endpoint (if
 * any) and the peer id the guest must ring.
 */
import { IvshmemClient, preparePrivatePath, protocol, SharedMemory, type DoorbellEndpoint } from '../../native/index.ts';
import type { ChipConfig } from '../settings/types.ts';
import type { Logger } from '../log.ts';
import { joinOrStartServer, pidFile, SERVER_IDLE_MS, startMissingServers, type DaemonReport, type ServerSpec } from './server-process.ts';

export interface Transport {
  mem: SharedMemory;
  /** Null in plain mode: no doorbells, both sides poll. */
  endpoint: DoorbellEndpoint | null;
  /** The id the guest rings, protocol.PEER_NONE in plain mode. */
  hostPeer: number;
  close(): Promise<void>;
}

/** A path the configuration check guarantees for this mode (config/chips.ts). */
function path(value: string | null, what: string, chip: ChipConfig): string {
  if (value === null) throw new Error(`chip ${chip.name}: no ${what} path configured for ${chip.mode} mode`);
  return value;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What a server-mode chip's long-lived ivshmem server serves. */
function serverSpec(chip: ChipConfig): ServerSpec {
  const socket = path(chip.socket, 'socket', chip);
  const shm = path(chip.shm, 'shared-memory', chip);
  // The runtime folder is ours to create (0700); any other must exist. Nobody else's folder or files.
  try {
    preparePrivatePath(socket, chip.runtimeDir, 'socket');
    preparePrivatePath(shm, chip.runtimeDir, 'shared memory');
  } catch (error) {
    throw new Error(`chip ${chip.name}: ${describe(error)}`, { cause: error });
  }
  return { socket, shm, size: chip.size, vectors: chip.vectors, socketMode: chip.socketMode, idleMs: SERVER_IDLE_MS };
}

/** The sockets a log line names: all of a few, the first and last of many. */
function someOf(sockets: readonly string[]): string {
  return sockets.length <= 3 ? sockets.join(', ') : `${sockets.length} sockets (${sockets[0]} ... ${sockets[sockets.length - 1]})`;
}

function serversStarted(log: Logger): (report: DaemonReport, sockets: string[]) => void {
  return (report, sockets) => {
    if (sockets.length === 0) return;
    const pidFiles = sockets.length <= 3 ? sockets.map(pidFile).join(', ') : 'each socket\'s .pid file';
    log.info(
      `started the ivshmem server(s) for ${someOf(sockets)} (pid ${report.pid}, also in ${pidFiles}); they outlive the bridge, so its guests do, and close ${SERVER_IDLE_MS / 1000} s after their last peer left`,
    );
  };
}

/**
 * Starts, in one process, the ivshmem servers of the server-mode chips
 * that have none running, so that opening them does not start one process
 * per chip. Problems are left for openTransport to report. Call the
 * returned release() once every chip has been opened (or failed to).
 */
export async function startChipServers(chips: readonly ChipConfig[], log: Logger): Promise<() => void> {
  const specs = chips.filter((c) => c.mode === 'server').map(serverSpec);
  return startMissingServers(specs, serversStarted(log));
}

export async function openTransport(chip: ChipConfig, log: Logger): Promise<Transport> {
  if (chip.mode === 'plain') {
    const shm = path(chip.shm, 'shared-memory', chip);
    let mem: SharedMemory;
    try {
      preparePrivatePath(shm, chip.runtimeDir, 'shared memory');
      mem = SharedMemory.open(shm, { size: chip.size, create: true });
    } catch (error) {
      throw new Error(`chip ${chip.name}: cannot open shared memory ${shm}: ${describe(error)}`);
    }
    return {
      mem,
      endpoint: null,
      hostPeer: protocol.PEER_NONE,
      close: () => {
        mem.close();
        return Promise.resolve();
      },
    };
  }
  const socket = path(chip.socket, 'socket', chip);
  let endpoint: IvshmemClient;
  if (chip.mode === 'server') {
    try {
      endpoint = await joinOrStartServer(serverSpec(chip), serversStarted(log));
    } catch (error) {
      throw new Error(`chip ${chip.name}: cannot serve ivshmem on ${socket}: ${describe(error)}`);
    }
  } else {
    try {
      endpoint = await IvshmemClient.connect(socket, { vectors: chip.vectors });
    } catch (error) {
      throw new Error(`chip ${chip.name}: cannot join the ivshmem server at ${socket}: ${describe(error)}`);
    }
  }
  // host_peer names the bridge serving the region; one that is still connected is another live bridge.
  const mem = endpoint.shm;
  const other = mem.load32(protocol.HDR_HOST_PEER);
  if (mem.load32(protocol.HDR_MAGIC) === protocol.SHM_MAGIC && endpoint.peers().some((p) => p.id === other)) {
    await endpoint.close();
    throw new Error(`chip ${chip.name}: another bridge (ivshmem peer ${other}) serves the shared memory of ${socket}; stop it first`);
  }
  return { mem, endpoint, hostPeer: endpoint.id, close: () => endpoint.close() };
}
