/**
 * SharedMemory on real files: creation and reopening, the atomic accessors,
 * snapshots, and every kind of bad offset or size rejected without touching
 * memory or the file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SharedMemory, protocol } from '../../native/index.ts';
import { binding } from '../../native/addon.ts';

const SIZE = 2 * protocol.SHM_SIZE_MIN;

describe('SharedMemory', () => {
  let dir: string;
  let shm: SharedMemory;
  let path: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-shm-'));
    path = join(dir, 'region');
    shm = SharedMemory.open(path, { size: SIZE, create: true });
  });

  after(() => {
    shm.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a zeroed file of the given size, mode 0600 by default', () => {
    assert.equal(shm.size, SIZE);
    assert.equal(shm.path, path);
    const st = statSync(path);
    assert.equal(st.size, SIZE);
    assert.equal(st.mode & 0o777, 0o600);
    assert.ok(shm.read(0, SIZE).equals(Buffer.alloc(SIZE)));
    const other = SharedMemory.open(join(dir, 'mode'), { size: SIZE, create: true, mode: 0o640 });
    other.close();
    assert.equal(statSync(join(dir, 'mode')).mode & 0o777, 0o640);
  });

  it('stores and loads unsigned 32-bit words that land in the file', () => {
    shm.store32(0, protocol.SHM_MAGIC);
    shm.store32(4, -1);
    shm.store32(SIZE - 4, 0x80000001);
    assert.equal(shm.load32(0), protocol.SHM_MAGIC);
    assert.equal(shm.load32(4), 0xffffffff);
    assert.equal(shm.load32(SIZE - 4), 0x80000001);
    const file = readFileSync(path);
    assert.equal(file.readUInt32LE(0), protocol.SHM_MAGIC);
    assert.equal(file.readUInt32LE(SIZE - 4), 0x80000001);
  });

  it('shares the memory with a second mapping of the same file', () => {
    const second = SharedMemory.open(path);
    try {
      assert.equal(second.size, SIZE);
      second.store32(8, 1234);
      assert.equal(shm.load32(8), 1234);
    } finally {
      second.close();
    }
  });

  it('fetchOr32, fetchAnd32 and compareExchange32 return the previous value', () => {
    shm.store32(16, 0b0101);
    assert.equal(shm.fetchOr32(16, 0b0010), 0b0101);
    assert.equal(shm.load32(16), 0b0111);
    assert.equal(shm.fetchAnd32(16, ~0b0100), 0b0111);
    assert.equal(shm.load32(16), 0b0011);
    assert.equal(shm.fetchOr32(16, 0x80000000), 0b0011);
    assert.equal(shm.load32(16), 0x80000003);
    assert.equal(shm.compareExchange32(16, 7, 9), 0x80000003, 'no swap: returns the current value');
    assert.equal(shm.load32(16), 0x80000003);
    assert.equal(shm.compareExchange32(16, 0x80000003, 9), 0x80000003, 'swap: returns expected');
    assert.equal(shm.load32(16), 9);
  });

  it('read returns a snapshot and write copies bytes in', () => {
    shm.write(100, Uint8Array.from([1, 2, 3, 4, 5]));
    const snapshot = shm.read(100, 5);
    assert.deepEqual([...snapshot], [1, 2, 3, 4, 5]);
    shm.write(100, Buffer.from([9]));
    assert.equal(snapshot[0], 1, 'the snapshot does not follow later writes');
    assert.equal(shm.read(100, 1)[0], 9);
    assert.equal(shm.read(SIZE, 0).length, 0);
  });

  it('rejects bad offsets and values with RangeError/TypeError, touching nothing', () => {
    shm.write(SIZE - 8, Buffer.alloc(8, 0x5a));
    const before = readFileSync(path);
    for (const offset of [SIZE, SIZE - 2, -4, 2, 1.5, Number.NaN, Infinity, 2 ** 53]) {
      assert.throws(() => shm.load32(offset), RangeError, `load32(${offset})`);
      assert.throws(() => { shm.store32(offset, 1); }, RangeError, `store32(${offset})`);
      assert.throws(() => shm.fetchOr32(offset, 1), RangeError);
      assert.throws(() => shm.fetchAnd32(offset, 0), RangeError);
      assert.throws(() => shm.compareExchange32(offset, 0x5a5a5a5a, 0), RangeError);
    }
    assert.throws(() => shm.load32(SIZE), /offset 8192 \+ 4 is outside the 8192-byte shared memory/);
    assert.throws(() => shm.load32(6), /not 4-byte aligned/);
    assert.throws(() => { shm.store32(SIZE - 4, 2 ** 32); }, RangeError);
    assert.throws(() => { shm.store32(SIZE - 4, 0.5); }, RangeError);
    assert.throws(() => { shm.store32(SIZE - 4, '1' as unknown as number); }, TypeError);
    assert.throws(() => shm.read(SIZE - 4, 5), RangeError);
    assert.throws(() => shm.read(0, -1), RangeError);
    assert.throws(() => { shm.write(SIZE - 2, Buffer.alloc(4, 0xff)); }, RangeError);
    assert.throws(() => { shm.write(0, 'text' as unknown as Uint8Array); }, TypeError);
    assert.throws(() => { shm.write(0, new Uint16Array(2) as unknown as Uint8Array); }, TypeError);
    assert.ok(readFileSync(path).equals(before), 'no byte changed');
  });

  it('reopens an existing file with its contents, and never resizes one', () => {
    const p = join(dir, 'keep');
    const first = SharedMemory.open(p, { size: SIZE, create: true });
    first.store32(32, 42);
    first.close();
    const again = SharedMemory.open(p, { size: SIZE, create: true });
    assert.equal(again.load32(32), 42);
    again.close();
    assert.throws(
      () => SharedMemory.open(p, { size: 2 * SIZE, create: true }),
      new RegExp(`is ${SIZE} bytes, expected ${2 * SIZE} \\(an existing file is never resized\\)`),
    );
    assert.equal(statSync(p).size, SIZE);
    assert.equal(readFileSync(p).readUInt32LE(32), 42);
  });

  it('rejects sizes that are not a power of two >= SHM_SIZE_MIN, creating nothing', () => {
    const p = join(dir, 'bad');
    for (const size of [3000, SIZE + 4, protocol.SHM_SIZE_MIN / 2]) {
      assert.throws(
        () => SharedMemory.open(p, { size, create: true }),
        { name: 'RangeError', message: `shared memory size ${size} is not a power of two >= ${protocol.SHM_SIZE_MIN}` },
      );
    }
    assert.equal(existsSync(p), false);
    assert.throws(() => SharedMemory.open(p, { create: true }), /needs a size/);
    writeFileSync(p, Buffer.alloc(5000));
    assert.throws(() => SharedMemory.open(p), /file size 5000 is not a power of two/);
    assert.equal(statSync(p).size, 5000);
  });

  it('reports a missing file or directory with its path and code', () => {
    assert.throws(() => SharedMemory.open(join(dir, 'missing')), { code: 'ENOENT', message: /open .*missing: No such file/ });
    assert.throws(() => SharedMemory.open(join(dir, 'no/such/dir'), { size: SIZE, create: true }), { code: 'ENOENT' });
    assert.throws(() => SharedMemory.open(dir), { code: 'EISDIR' });
    assert.throws(() => SharedMemory.open('/dev/null'), /\/dev\/null is not a regular file/);
  });

  it('throws on every access after close', () => {
    const p = join(dir, 'closed');
    const region = SharedMemory.open(p, { size: SIZE, create: true });
    region.close();
    region.close();
    assert.equal(region.closed, true);
    assert.throws(() => region.load32(0), /shared memory is closed/);
    assert.throws(() => { region.store32(0, 1); }, /shared memory is closed/);
    assert.throws(() => region.fetchOr32(0, 1), /shared memory is closed/);
    assert.throws(() => region.fetchAnd32(0, 1), /shared memory is closed/);
    assert.throws(() => region.compareExchange32(0, 0, 1), /shared memory is closed/);
    assert.throws(() => region.read(0, 4), /shared memory is closed/);
    assert.throws(() => { region.write(0, Buffer.alloc(4)); }, /shared memory is closed/);
    assert.throws(() => region.fd, /shared memory is closed/);
  });

  it('reports the size of the file behind the mapping now, truncated or not, without touching the mapping', () => {
    const p = join(dir, 'shrinking');
    const region = SharedMemory.open(p, { size: SIZE, create: true });
    try {
      assert.equal(region.fileSize(), SIZE);
      truncateSync(p, 100);
      assert.equal(region.fileSize(), 100);
    } finally {
      region.close();
    }
    assert.throws(() => region.fileSize(), /shared memory is closed/);
  });

  it('survives accesses past the end of a file truncated under the mapping: zeros instead of SIGBUS, counted in faults()', () => {
    const p = join(dir, 'truncated');
    const region = SharedMemory.open(p, { size: SIZE, create: true });
    try {
      region.store32(0, 5);
      region.store32(SIZE - 4, 7);
      assert.equal(region.faults(), 0, 'a sound file faults nowhere');
      truncateSync(p, 0);
      // Each of these touched an unbacked page: without the addon's fault guard the test process dies of SIGBUS here.
      assert.equal(region.load32(SIZE - 4), 0, 'a page the file lost reads zeros');
      assert.equal(region.fetchOr32(0, 1), 0, 'read-modify-write too');
      assert.ok(region.read(0, SIZE).equals(Buffer.alloc(SIZE).fill(0, 0, 4).fill(1, 0, 1)), 'native copies too');
      region.write(4, Buffer.from([1, 2, 3, 4]));
      assert.equal(region.faults(), 2, 'one fault per lost page, each turned into a zero page once');
      assert.equal(statSync(p).size, 0, 'nothing written reaches the file');
    } finally {
      region.close();
    }
    assert.throws(() => region.faults(), /shared memory is closed/);
    const next = SharedMemory.open(join(dir, 'after-truncated'), { size: SIZE, create: true });
    assert.equal(next.faults(), 0, 'a new mapping starts with no faults');
    next.close();
  });

  it('gives one ArrayBuffer per mapping for the word accesses, and detaches it at close', () => {
    const native = binding.NativeSharedMemory.openFile(join(dir, 'words'), SIZE, true, 0o600);
    const words = native.words();
    assert.equal(native.words(), words, 'V8 must not see two ArrayBuffers over one mapping');
    const view = new Uint32Array(words);
    Atomics.store(view, 3, 0xdeadbeef);
    assert.equal(native.read(12, 4).readUInt32LE(0), 0xdeadbeef, 'the buffer is the mapping itself');
    native.close();
    // A view left over the buffer refuses to read instead of reaching the unmapped pages.
    assert.equal(words.byteLength, 0);
    assert.equal(view.length, 0);
    assert.throws(() => Atomics.load(view, 3), /detached ArrayBuffer/);
    assert.throws(() => native.words(), /shared memory is closed/);
  });
});
