/**
 * A mapped shared-memory region with the 32-bit atomic accesses the
 * protocol needs. The addon maps the file; the word accesses are Atomics on
 * a Uint32Array over the mapping, which the JIT inlines (a native call per
 * word cost ~120 ns against ~9 ns, and a command touches tens of words).
 * Every offset and value is checked before any access (RangeError,
 * TypeError), so a bad call never touches memory. An access past the end
 * of a file truncated under the mapping does not kill the process (SIGBUS):
 * the addon gives it a zero page and counts it in faults().
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
  /** The mapping as 32-bit words; dropped (and detached by the addon) at close. */
  #words: Uint32Array | undefined;
  /** The addon's fault count for this mapping, one word; dropped (and detached) at close. */
  #faults: Uint32Array | undefined;

  private constructor(native: NativeSharedMemory, path: string | undefined) {
    this.#native = native;
    this.#words = new Uint32Array(native.words());
    this.#faults = new Uint32Array(native.faultCounter());
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

  /** The size of the file behind the mapping now (an fstat); smaller than `size` once someone truncated it. */
  fileSize(): number {
    return this.#open().fileSize();
  }

  /**
   * How many accesses met a page the file no longer backs because someone
   * truncated it: each read zeros and wrote nowhere instead of raising
   * SIGBUS. Once non-zero the memory is not the file's any more. The
   * addon's counter read in place (an Atomics load, no call into the addon).
   */
  faults(): number {
    const counter = this.#faults;
    if (counter === undefined) throw new Error('shared memory is closed');
    return Atomics.load(counter, 0);
  }

  get closed(): boolean {
    return this.#native === undefined;
  }

  #open(): NativeSharedMemory {
    if (this.#native === undefined) throw new Error('shared memory is closed');
    return this.#native;
  }

  /** The words, once `offset` is checked (closed, type, range, alignment): nothing is touched before. */
  #at(offset: number): Uint32Array {
    const words = this.#words;
    if (words === undefined) throw new Error('shared memory is closed');
    if (typeof offset !== 'number') throw new TypeError('offset must be a number');
    if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`offset must be an integer in [0, ${Number.MAX_SAFE_INTEGER}], got ${String(offset)}`);
    if (offset > this.size - 4) throw new RangeError(`offset ${offset} + 4 is outside the ${this.size}-byte shared memory`);
    if (offset % 4 !== 0) throw new RangeError(`offset ${offset} is not 4-byte aligned`);
    return words;
  }

  /** Atomic 32-bit load (sequentially consistent, so at least acquire); unsigned. */
  load32(offset: number): number {
    return Atomics.load(this.#at(offset), offset / 4);
  }

  /** Atomic 32-bit store (sequentially consistent, so at least release); value is taken modulo 2^32. */
  store32(offset: number, value: number): void {
    const words = this.#at(offset);
    Atomics.store(words, offset / 4, bits32(value, 'value'));
  }

  /** Atomic OR; returns the previous value. */
  fetchOr32(offset: number, bits: number): number {
    const words = this.#at(offset);
    return Atomics.or(words, offset / 4, bits32(bits, 'bits'));
  }

  /** Atomic AND (pass ~bits to clear bits); returns the previous value. */
  fetchAnd32(offset: number, bits: number): number {
    const words = this.#at(offset);
    return Atomics.and(words, offset / 4, bits32(bits, 'bits'));
  }

  /** Atomic compare-and-swap; returns the previous value (=== expected when it swapped). */
  compareExchange32(offset: number, expected: number, desired: number): number {
    const words = this.#at(offset);
    return Atomics.compareExchange(words, offset / 4, bits32(expected, 'expected'), bits32(desired, 'desired'));
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
    this.#words = undefined;
    this.#faults = undefined;
    this.#native?.close();
    this.#native = undefined;
  }
}

/**
 * A 32-bit pattern from a number in [-2^31, 2^32), as the protocol's words
 * take them (~bits of a mask is negative in JavaScript); anything else is an
 * error, not a silently wrapped value.
 */
function bits32(value: number, name: string): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isInteger(value) || value < -2147483648 || value > 4294967295) {
    throw new RangeError(`${name} must be an integer in [-2147483648, 4294967295], got ${String(value)}`);
  }
  return value >>> 0;
}
