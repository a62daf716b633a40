/**
 * A mapped shared-memory region with the 32-bit atomic accesses the
 * protocol needs. Every offset is bounds- and alignment-checked in the
 * addon before any access (RangeError), so a bad offset never touches memory.
 */
import { binding, type NativeSharedMemory } from './addon.ts';

export interface SharedMemoryOptions {
  /** Size in bytes: a power of two >= protocol.SHM_SIZE_MIN. Required with create. */
  size?: number;
  /** Create the file if it does not exist (an existing one keeps its contents). */
  create?: boolean;
  /** Permissions of a created file; default 0o600. */
  mode?: number;
}

export class SharedMemory {
  readonly size: number;
  readonly path: string | undefined;
  #native: NativeSharedMemory | undefined;

  private constructor(native: NativeSharedMemory, path: string | undefined) {
    this.#native = native;
    this.size = native.size;
    this.path = path;
  }

  /**
   * Opens (or with create: true creates) a shared-memory file, e.g. under
   * /dev/shm. An existing file is never resized: a size mismatch, a size that
   * is not a power of two, or a missing file without create is an error.
   */
  static open(path: string, options: SharedMemoryOptions = {}): SharedMemory {
    const native = binding.NativeSharedMemory.openFile(
      path,
      options.size ?? 0,
      options.create ?? false,
      options.mode ?? 0o600,
    );
    return new SharedMemory(native, path);
  }

  /**
   * Maps a shared-memory fd received from an ivshmem server. Takes ownership
   * of fd on success only; on error the caller still has to close it.
   * @internal
   */
  static fromFd(fd: number): SharedMemory {
    return new SharedMemory(binding.NativeSharedMemory.mapFd(fd), undefined);
  }

  /** The mapping's fd, which a server passes to its peers. Owned by this object. @internal */
  get fd(): number {
    return this.#open().fd;
  }

  get closed(): boolean {
    return this.#native === undefined;
  }

  #open(): NativeSharedMemory {
    if (this.#native === undefined) throw new Error('shared memory is closed');
    return this.#native;
  }

  /** Atomic 32-bit load with acquire ordering; unsigned. */
  load32(offset: number): number {
    return this.#open().load32(offset);
  }

  /** Atomic 32-bit store with release ordering; value is taken modulo 2^32. */
  store32(offset: number, value: number): void {
    this.#open().store32(offset, value);
  }

  /** Atomic OR; returns the previous value. */
  fetchOr32(offset: number, bits: number): number {
    return this.#open().fetchOr32(offset, bits);
  }

  /** Atomic AND (pass ~bits to clear bits); returns the previous value. */
  fetchAnd32(offset: number, bits: number): number {
    return this.#open().fetchAnd32(offset, bits);
  }

  /** Atomic compare-and-swap; returns the previous value (=== expected when it swapped). */
  compareExchange32(offset: number, expected: number, desired: number): number {
    return this.#open().compareExchange32(offset, expected, desired);
  }

  /** A copy of length bytes at offset (a snapshot: later changes do not show). */
  read(offset: number, length: number): Buffer {
    return this.#open().read(offset, length);
  }

  /** Plain (non-atomic) copy of data to offset, for initialising tables. */
  write(offset: number, data: Uint8Array): void {
    this.#open().write(offset, data);
  }

  /** Unmaps the region and closes its fd; any later access throws. Idempotent. */
  close(): void {
    this.#native?.close();
    this.#native = undefined;
  }
}
