/**
 * Opens what a chip's mode needs: a peer on the chip's own long-lived
 * ivshmem server, started when none runs (server, see server-process.ts),
 * a peer on someone else's server (client), or a bare shared-memory file
 * polled on a timer (plain). Returns the memory, the doorbell endpoint (if
 * any) and the peer id the guest must ring.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { IvshmemClient, protocol, SharedMemory, type DoorbellEndpoint } from '../../native/index.ts';
import type { ChipConfig } from '../config/types.ts';
import { DEFAULT_RUNTIME_DIR } from '../config/chips.ts';
import type { Logger } from '../log.ts';
import { joinOrStartServer, pidFile, SERVER_IDLE_MS } from './server-process.ts';

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

export async function openTransport(chip: ChipConfig, log: Logger): Promise<Transport> {
  if (chip.mode === 'plain') {
    const shm = path(chip.shm, 'shared-memory', chip);
    let mem: SharedMemory;
    try {
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
    // Our own default folder is ours to create; a configured one must exist.
    if (dirname(socket) === DEFAULT_RUNTIME_DIR) mkdirSync(DEFAULT_RUNTIME_DIR, { recursive: true, mode: 0o755 });
    const spec = { socket, shm: path(chip.shm, 'shared-memory', chip), size: chip.size, vectors: chip.vectors, socketMode: chip.socketMode, idleMs: SERVER_IDLE_MS };
    try {
      endpoint = await joinOrStartServer(spec, (pid) => {
        log.info(`chip ${chip.name}: started its ivshmem server on ${socket} (pid ${pid}, in ${pidFile(socket)}); it outlives the bridge and exits ${SERVER_IDLE_MS / 1000} s after its last peer left`);
      });
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
  return { mem: endpoint.shm, endpoint, hostPeer: endpoint.id, close: () => endpoint.close() };
}
