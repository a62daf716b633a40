/**
 * An ivshmem server compatible with QEMU's `-device ivshmem-doorbell`
 * (docs/ivshmem.md). It owns the shared memory and every peer's eventfds,
 * and is itself a peer (the bridge's own id and receive vectors), announced
 * to everyone like any other peer.
 *
 * Each message is a little-endian int64, some with one fd (SCM_RIGHTS). On
 * connect a peer gets: 0 (protocol version); its id; -1 with the shm fd;
 * for every other peer P, P with each of P's eventfds; then its own id with
 * each of its own eventfds. Everyone else gets the newcomer's id with each
 * of its eventfds, and on leave its id alone. Peers never send anything: one
 * that does, or stops reading, is dropped; the others are not affected.
 */
import { rmSync } from 'node:fs';
import { binding, type FdWatcher } from './addon.ts';
import { EndpointBase, Peer, PEER_ID_MAX, watchFd } from './doorbell-endpoint.ts';
import { protocol } from './protocol.ts';
import { SharedMemory } from './shared-memory.ts';
import { listenUnix } from './unix-listen.ts';

export interface IvshmemServerOptions {
  /** Unix socket QEMU connects to (`-chardev socket,path=...`). */
  socketPath: string;
  /** Shared-memory file, e.g. /dev/shm/vgpio0; created if missing, an existing one is reused. */
  shmPath: string;
  /** A power of two >= protocol.SHM_SIZE_MIN; must match an existing file. */
  shmSize: number;
  /** Doorbell vectors per peer; QEMU's `vectors=` must be at least this. */
  vectors: number;
  /** Permissions of the socket file; default 0o600 (owner only). */
  socketMode?: number;
  /**
   * Whether the server is a peer itself (id 0, with its own vectors,
   * announced to everyone); default true. A server that only brokers
   * (vgpio2mqtt's long-lived one, which the bridge joins as a client) is not.
   */
  peer?: boolean;
}

/** QEMU's contrib server allows 64 vectors per peer; so do we. */
export const VECTORS_MAX = 64;
const PROTOCOL_VERSION = 0n;
const SHM_MESSAGE = -1n;

class Connection extends Peer {
  readonly socket: number;
  watcher: FdWatcher | undefined;

  constructor(id: number, socket: number) {
    super(id);
    this.socket = socket;
  }

  override close(): void {
    this.watcher?.close();
    binding.closeFd(this.socket);
    super.close();
  }
}

export class IvshmemServer extends EndpointBase {
  readonly id: number;
  readonly vectors: number;
  readonly shm: SharedMemory;
  readonly socketPath: string;
  protected override readonly remote = new Map<number, Connection>();
  #listenFd: number;
  #listenWatcher: FdWatcher;
  #nextId: number;
  readonly #isPeer: boolean;

  private constructor(options: IvshmemServerOptions, shm: SharedMemory, listenFd: number) {
    super();
    this.shm = shm;
    this.vectors = options.vectors;
    this.socketPath = options.socketPath;
    this.id = 0;
    this.#nextId = 1;
    this.#isPeer = options.peer ?? true;
    if (this.#isPeer) for (let v = 0; v < this.vectors; v++) this.addOwnVector(binding.eventfdCreate());
    this.#listenFd = listenFd;
    this.#listenWatcher = watchFd(
      listenFd,
      () => {
        this.#acceptAll();
      },
      (error) => this.emit('error', error),
    );
  }

  /**
   * Creates (or reuses) the shared memory and listens on the socket. Errors:
   * bad options, a shm size that is not a power of two or does not match the
   * existing file, a missing socket directory, a live server on the path.
   */
  static listen(options: IvshmemServerOptions): Promise<IvshmemServer> {
    try {
      const { vectors, socketMode = 0o600 } = options;
      if (!Number.isInteger(vectors) || vectors < protocol.VECTORS_MIN || vectors > VECTORS_MAX) {
        throw new RangeError(`vectors must be an integer in ${protocol.VECTORS_MIN}..${VECTORS_MAX}, got ${String(vectors)}`);
      }
      if (!Number.isInteger(socketMode) || socketMode < 0 || socketMode > 0o777) {
        throw new RangeError(`socketMode must be a permission mode in 0..0o777, got ${String(socketMode)}`);
      }
      const shm = SharedMemory.open(options.shmPath, { size: options.shmSize, create: true });
      let listenFd: number;
      try {
        listenFd = listenUnix(options.socketPath, socketMode);
      } catch (error) {
        shm.close();
        throw error;
      }
      return Promise.resolve(new IvshmemServer(options, shm, listenFd));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #acceptAll(): void {
    for (;;) {
      const socket = binding.unixAccept(this.#listenFd);
      if (socket < 0) return;
      this.#admit(socket);
    }
  }

  /** The next unused id after the last one given (ids are not reused until they wrap). */
  #allocateId(): number | undefined {
    for (let tries = 0; tries <= PEER_ID_MAX; tries++) {
      const id = this.#nextId;
      this.#nextId = id === PEER_ID_MAX ? 0 : id + 1;
      if (id !== this.id && !this.remote.has(id)) return id;
    }
    return undefined;
  }

  #admit(socket: number): void {
    const id = this.#allocateId();
    if (id === undefined) {
      binding.closeFd(socket);
      this.emit('error', new Error('ivshmem server is full: no free peer id'));
      return;
    }
    const peer = new Connection(id, socket);
    try {
      for (let v = 0; v < this.vectors; v++) peer.eventfds.push(binding.eventfdCreate());
      binding.sendMessage(socket, PROTOCOL_VERSION, -1);
      binding.sendMessage(socket, BigInt(id), -1);
      binding.sendMessage(socket, SHM_MESSAGE, this.shm.fd);
      for (const other of this.remote.values()) this.#announce(socket, other.id, other.eventfds);
      if (this.#isPeer) this.#announce(socket, this.id, this.own.map((v) => v.fd));
      this.#announce(socket, id, peer.eventfds);
    } catch (error) {
      // It never became a peer: nobody else heard of it.
      peer.close();
      this.emit('drop', id, `handshake failed: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    peer.watcher = watchFd(
      socket,
      () => {
        this.#onPeerReadable(peer);
      },
      (error) => {
        this.#remove(peer, error.message);
      },
    );
    const failed = this.#broadcast((socket) => {
      this.#announce(socket, id, peer.eventfds);
    });
    this.remote.set(id, peer);
    this.emit('join', peer.info());
    this.#removeAll(failed);
  }

  /** Sends to every peer; returns those the send failed for (gone, or not reading), to be removed. */
  #broadcast(send: (socket: number) => void): [Connection, string][] {
    const failed: [Connection, string][] = [];
    for (const other of this.remote.values()) {
      try {
        send(other.socket);
      } catch (error) {
        failed.push([other, `cannot send to it: ${error instanceof Error ? error.message : String(error)}`]);
      }
    }
    return failed;
  }

  #removeAll(failed: [Connection, string][]): void {
    for (const [peer, reason] of failed) this.#remove(peer, reason);
  }

  #announce(socket: number, id: number, eventfds: readonly number[]): void {
    for (const fd of eventfds) binding.sendMessage(socket, BigInt(id), fd);
  }

  /** Peers never talk: readable means it hung up, or it misbehaves. */
  #onPeerReadable(peer: Connection): void {
    const message = binding.recvMessage(peer.socket);
    if (message === null) return;
    for (const fd of message.fds) binding.closeFd(fd);
    this.#remove(peer, message.bytes === 0 ? undefined : 'sent data (peers must not send anything)');
  }

  /** Removes a peer (reason: why it was dropped; none for a clean hang-up) and tells everyone. */
  #remove(peer: Connection, reason?: string): void {
    if (this.remote.get(peer.id) !== peer) return;
    this.remote.delete(peer.id);
    peer.close();
    if (reason !== undefined) this.emit('drop', peer.id, reason);
    const failed = this.#broadcast((socket) => {
      binding.sendMessage(socket, BigInt(peer.id), -1);
    });
    this.emit('leave', peer.id);
    this.#removeAll(failed);
  }

  /**
   * Disconnects every peer, stops listening and removes the socket file,
   * closes every fd and unmaps the shared memory. The shm file stays.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.#listenWatcher.close();
    binding.closeFd(this.#listenFd);
    rmSync(this.socketPath, { force: true });
    this.releaseBase();
    this.shm.close();
    this.emit('close');
    return Promise.resolve();
  }
}
