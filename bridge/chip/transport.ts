/**
 * Opens what a chip's mode needs: an ivshmem server of our own (server),
 * a peer on someone else's server (client), or a bare shared-memory file
 * polled on a timer (plain). Returns the memory, the doorbell endpoint (if
 * any) and the peer id the guest must ring.
 */
import { IvshmemClient, IvshmemServer, preparePrivatePath, protocol, SharedMemory, type DoorbellEndpoint } from '../../native/index.ts';
import type { ChipConfig } from '../config/types.ts';

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

export async function openTransport(chip: ChipConfig): Promise<Transport> {
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
  let endpoint: IvshmemServer | IvshmemClient;
  if (chip.mode === 'server') {
    try {
      // The runtime folder is ours to create (0700); any other must exist. Nobody else's folder or files.
      preparePrivatePath(socket, chip.runtimeDir, 'socket');
      preparePrivatePath(path(chip.shm, 'shared-memory', chip), chip.runtimeDir, 'shared memory');
      endpoint = await IvshmemServer.listen({
        socketPath: socket,
        shmPath: path(chip.shm, 'shared-memory', chip),
        shmSize: chip.size,
        vectors: chip.vectors,
        socketMode: chip.socketMode,
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
