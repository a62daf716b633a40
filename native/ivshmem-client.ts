/**
 * Joins an ivshmem server (ours, or QEMU's contrib ivshmem-server) as a
 * peer, the role QEMU's `ivshmem-doorbell` device plays: receives its id,
 * the shared memory and every peer's eventfds, then follows joins and leaves.
 *
 * The protocol never says how many vectors a peer has: its eventfds simply
 * arrive one message each, own ones last. So the own vector count is either
 * given (`vectors`, like QEMU's `vectors=`), or learnt from the handshake:
 * complete once another peer's message follows the own ones, or once no more
 * own eventfd arrived for `settleMs`. Later peers are announced ('join')
 * when they have that many eventfds.
 */
import { binding, type FdWatcher, type ReceivedMessage } from './addon.ts';
import { EndpointBase, Peer, PEER_ID_MAX, watchFd } from './doorbell-endpoint.ts';
import { SharedMemory } from './shared-memory.ts';

export interface IvshmemClientOptions {
  /** Expected own vector count; more eventfds than this is a protocol error. Default: learnt. */
  vectors?: number;
  /** How long to wait for the whole handshake; default 5000 ms. */
  timeoutMs?: number;
  /** Quiet time that ends a handshake whose vector count is learnt; default 50 ms. */
  settleMs?: number;
}

type Stage = 'version' | 'id' | 'shm' | 'peers';

export class IvshmemClient extends EndpointBase {
  readonly socketPath: string;
  #socket: number;
  #watcher: FdWatcher | undefined;
  #stage: Stage = 'version';
  #id = -1;
  #shm: SharedMemory | undefined;
  #vectors: number | undefined;
  #settleMs: number;
  #settleTimer: NodeJS.Timeout | undefined;
  #ready: { resolve: () => void; reject: (error: Error) => void } | undefined;

  private constructor(socketPath: string, socket: number, options: IvshmemClientOptions) {
    super();
    this.socketPath = socketPath;
    this.#socket = socket;
    this.#vectors = options.vectors;
    this.#settleMs = options.settleMs ?? 50;
  }

  get id(): number {
    return this.#id;
  }

  get vectors(): number {
    return this.#vectors ?? this.own.length;
  }

  get shm(): SharedMemory {
    if (this.#shm === undefined) throw new Error('ivshmem client has no shared memory yet');
    return this.#shm;
  }

  /** Connects and resolves once the handshake is complete; rejects with a clear error otherwise. */
  static async connect(socketPath: string, options: IvshmemClientOptions = {}): Promise<IvshmemClient> {
    const { vectors } = options;
    if (vectors !== undefined && (!Number.isInteger(vectors) || vectors < 1)) {
      throw new RangeError(`vectors must be a positive integer, got ${String(vectors)}`);
    }
    let socket: number;
    try {
      socket = binding.unixConnect(socketPath);
    } catch (error) {
      throw new Error(`cannot connect to the ivshmem server at ${socketPath}: ${String(error)}`, { cause: error });
    }
    const client = new IvshmemClient(socketPath, socket, options);
    const ready = new Promise<void>((resolve, reject) => {
      client.#ready = { resolve, reject };
    });
    const timeoutMs = options.timeoutMs ?? 5000;
    const timer = setTimeout(() => {
      client.#fail(new Error(`ivshmem handshake with ${socketPath} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    client.#watcher = watchFd(
      socket,
      () => {
        client.#readAll();
      },
      (error) => {
        client.#fail(error);
      },
    );
    try {
      await ready;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  #readAll(): void {
    for (;;) {
      if (this.closed) return;
      const message = binding.recvMessage(this.#socket);
      if (message === null) return;
      if (message.bytes === 0) throw new Error('the ivshmem server closed the connection');
      this.#handle(message);
    }
  }

  /** One message; throws (ending the connection) on anything the protocol does not allow. */
  #handle(message: ReceivedMessage): void {
    const fds = message.fds;
    const fail = (what: string): never => {
      for (const fd of fds) binding.closeFd(fd);
      throw new Error(`ivshmem protocol error from ${this.socketPath}: ${what}`);
    };
    if (message.value === undefined) fail(`a ${message.bytes}-byte message`);
    if (fds.length > 1 || message.truncated) fail('several fds in one message');
    const value = message.value ?? 0n;
    const fd = fds[0];
    switch (this.#stage) {
      case 'version':
        if (value !== 0n || fd !== undefined) fail(`unsupported protocol version ${value}`);
        this.#stage = 'id';
        return;
      case 'id':
        if (value < 0n || value > BigInt(PEER_ID_MAX) || fd !== undefined) fail(`bad own id ${value}`);
        this.#id = Number(value);
        this.#stage = 'shm';
        return;
      case 'shm':
        if (value !== -1n || fd === undefined) fail(`expected the shared memory (-1 with an fd), got ${value}`);
        try {
          this.#shm = SharedMemory.fromFd(fd ?? -1);
        } catch (error) {
          fail(`unusable shared memory: ${String(error)}`);
        }
        this.#stage = 'peers';
        return;
      case 'peers':
        if (value < 0n || value > BigInt(PEER_ID_MAX)) fail(`bad peer id ${value}`);
        this.#peerMessage(Number(value), fd);
    }
  }

  #peerMessage(id: number, fd: number | undefined): void {
    if (id === this.#id) {
      if (fd === undefined) throw new Error('ivshmem protocol error: the server announced our own leave');
      if (this.#vectors !== undefined && this.own.length >= this.#vectors) {
        binding.closeFd(fd);
        throw new Error(`ivshmem protocol error: more than ${this.#vectors} own vectors`);
      }
      this.addOwnVector(fd);
      if (this.own.length === this.#vectors) this.#complete();
      else if (this.#ready !== undefined) this.#settle();
      return;
    }
    if (this.own.length > 0 && this.#vectors === undefined) this.#complete();
    let peer = this.remote.get(id);
    if (fd === undefined) {
      if (peer === undefined) return; // a leave for a peer we never saw complete: nothing to do
      this.remote.delete(id);
      peer.close();
      this.emit('leave', id);
      return;
    }
    if (peer === undefined) {
      peer = new Peer(id);
      this.remote.set(id, peer);
    }
    if (this.#ready === undefined && peer.eventfds.length >= this.vectors) {
      binding.closeFd(fd);
      throw new Error(`ivshmem protocol error: peer ${id} has more than ${this.vectors} vectors`);
    }
    peer.eventfds.push(fd);
    if (this.#ready === undefined && peer.eventfds.length === this.vectors) this.emit('join', peer.info());
  }

  #settle(): void {
    clearTimeout(this.#settleTimer);
    this.#settleTimer = setTimeout(() => {
      this.#complete();
    }, this.#settleMs);
  }

  /** The handshake is over: the own vector count is fixed and connect() resolves. */
  #complete(): void {
    clearTimeout(this.#settleTimer);
    const ready = this.#ready;
    if (ready === undefined) return;
    this.#ready = undefined;
    this.#vectors = this.own.length;
    ready.resolve();
  }

  /**
   * A fatal error: during connect it rejects connect, afterwards it is
   * emitted. Either way the connection and eventfds close; after connect the
   * shared memory stays mapped until close(), so its user can still read
   * the state it holds (the memory outlives the server).
   */
  #fail(error: Error): void {
    if (this.closed) return;
    const ready = this.#ready;
    this.#ready = undefined;
    this.#release();
    if (ready !== undefined) this.#shm?.close();
    if (ready !== undefined) ready.reject(error);
    else this.emit('error', error);
    this.emit('close');
  }

  #release(): void {
    this.closed = true;
    clearTimeout(this.#settleTimer);
    this.#watcher?.close();
    binding.closeFd(this.#socket);
    this.releaseBase();
  }

  /** Leaves the server (it tells the others), closes every fd and unmaps the shared memory. */
  close(): Promise<void> {
    if (!this.closed) {
      const ready = this.#ready;
      this.#ready = undefined;
      this.#release();
      ready?.reject(new Error('ivshmem client closed during the handshake'));
      this.emit('close');
    }
    this.#shm?.close();
    return Promise.resolve();
  }
}
