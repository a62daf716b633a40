/**
 * What both ivshmem modes give the bridge: its own peer on an ivshmem
 * server (an id, receive vectors, the shared memory), the other peers'
 * doorbells, and join/leave/ring events. EndpointBase holds the state and
 * fd handling the server and the client share.
 */
import { EventEmitter } from 'node:events';
import { binding, type FdWatcher } from './addon.ts';
import type { SharedMemory } from './shared-memory.ts';

export interface PeerInfo {
  id: number;
  vectors: number;
}

export interface DoorbellEvents {
  /** One of the own vectors was rung (any number of rings since the last event). */
  ring: [vector: number];
  join: [peer: PeerInfo];
  leave: [id: number];
  /** The server dropped a peer for misbehaving (a 'leave' for it follows). */
  drop: [id: number, reason: string];
  error: [error: Error];
  /** Emitted once when the endpoint has released everything. */
  close: [];
}

export interface DoorbellEndpoint {
  readonly id: number;
  readonly vectors: number;
  readonly shm: SharedMemory;
  /** The other peers currently known. */
  peers(): PeerInfo[];
  /** Rings vector `vector` of peer `peer`; RangeError for an unknown peer or vector. */
  ring(peer: number, vector: number): void;
  on(event: 'ring', listener: (vector: number) => void): this;
  on(event: 'join', listener: (peer: PeerInfo) => void): this;
  on(event: 'leave', listener: (id: number) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  close(): Promise<void>;
}

/** The highest peer id: the doorbell register has 16 bits for it. */
export const PEER_ID_MAX = 0xffff;

/** A peer's doorbell eventfds, owned (closed) by whoever holds the Peer. */
export class Peer {
  readonly id: number;
  readonly eventfds: number[] = [];

  constructor(id: number) {
    this.id = id;
  }

  info(): PeerInfo {
    return { id: this.id, vectors: this.eventfds.length };
  }

  close(): void {
    for (const fd of this.eventfds.splice(0)) binding.closeFd(fd);
  }
}

/**
 * Calls `onReadable` each time fd is readable or hung up (libuv's uv_poll_t,
 * no threads). An exception in the handler goes to `onError`, so a bad peer
 * can never throw into libuv.
 */
export function watchFd(fd: number, onReadable: () => void, onError: (error: Error) => void): FdWatcher {
  return new binding.FdWatcher(fd, (status) => {
    try {
      if (status < 0) throw new Error(`polling fd ${fd} failed (libuv status ${status})`);
      onReadable();
    } catch (error) {
      onError(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

export abstract class EndpointBase extends EventEmitter<DoorbellEvents> implements DoorbellEndpoint {
  abstract readonly id: number;
  abstract readonly vectors: number;
  abstract readonly shm: SharedMemory;
  protected readonly remote = new Map<number, Peer>();
  /** Own receive vectors: the eventfds others ring, each watched. */
  protected readonly own: { fd: number; watcher: FdWatcher }[] = [];
  protected closed = false;

  peers(): PeerInfo[] {
    return [...this.remote.values()].map((peer) => peer.info());
  }

  ring(peer: number, vector: number): void {
    if (this.closed) throw new Error('ivshmem endpoint is closed');
    const fds = peer === this.id ? this.own.map((v) => v.fd) : this.remote.get(peer)?.eventfds;
    if (fds === undefined) throw new RangeError(`no ivshmem peer ${peer}`);
    const fd = Number.isInteger(vector) ? fds[vector] : undefined;
    if (fd === undefined) throw new RangeError(`ivshmem peer ${peer} has no vector ${vector} (it has ${fds.length})`);
    binding.eventfdSignal(fd);
  }

  /** Takes ownership of an eventfd as own vector number `this.own.length`. */
  protected addOwnVector(fd: number): void {
    const vector = this.own.length;
    const watcher = watchFd(
      fd,
      () => {
        if (binding.eventfdDrain(fd) > 0) this.emit('ring', vector);
      },
      (error) => this.emit('error', error),
    );
    this.own.push({ fd, watcher });
  }

  /** Stops every watcher and closes every fd this base owns (watchers first, as libuv requires). */
  protected releaseBase(): void {
    for (const { fd, watcher } of this.own.splice(0)) {
      watcher.close();
      binding.closeFd(fd);
    }
    for (const peer of this.remote.values()) peer.close();
    this.remote.clear();
  }

  abstract close(): Promise<void>;
}
