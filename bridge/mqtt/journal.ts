/**
 * Which QoS 1 commands this MQTT session applied and may not have
 * acknowledged yet, kept in a private file so that it outlives the bridge
 * (a kill -9 included: the file is mapped, and every store is in the
 * kernel's page cache as it is made). One slot per packet identifier.
 * Right before a command writes shared memory the slot records its
 * intent (chip, line, the level it writes and the one the line had);
 * once the command is taken it records
 * the command as applied, with the edge it made, so that a restarted
 * bridge publishes an edge that may not have gone out; once its PUBACK is
 * known to have reached the broker it is cleared. An intent left by a
 * crash is resolved at the next start by looking at the line (see
 * Acknowledger).
 *
 * Hand-written: MQTT client stores (mqtt.js's, its LevelDB and file
 * stores) keep the client's own outgoing packets, not what an incoming
 * packet did, and are asynchronous, so a crash could fall between a
 * change and its record.
 *
 * Mapped rather than written: a command records twice and clears once,
 * and three pwrite() calls on an ext4 file cost about 11 µs a command
 * (inode time updates), a sixth of the bridge's time in a flood through
 * Mosquitto. The mapping's pages are the file's page cache; only the
 * slots used are touched.
 */
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readSync } from 'node:fs';
import { SharedMemory } from '../../native/index.ts';
import type { Intent, Published } from './link.ts';

/** Bytes per packet identifier: state, length, then the edge as JSON. At most 16 MiB, and sparse. */
const SLOT = 256;
const SLOTS = 0x10000;
/** The file's size: every slot (a power of two, as the mapping wants). */
const SIZE = SLOT * SLOTS;
/** Read at startup this many bytes at a time. */
const CHUNK = 1 << 20;
/** The command was applied; its edge (if any) may not have gone out. */
const APPLIED = 1;
/** The command was applied and its edge published again after a restart. */
const REPUBLISHED = 2;
/** The command was about to write shared memory: whether it did, the line tells. */
const INTENT = 3;
/** An intent's bytes before the chip's name: state, length, level, before, line. */
const INTENT_HEAD = 7;

export interface JournalEntry {
  edge: Published | undefined;
  /** Its edge went out again after a restart: not to be published a third time. */
  republished: boolean;
}

/** Opens (creating it 0600) the journal file, never through a symlink: the file is extended and written below. */
function openJournal(path: string): number {
  try {
    return openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`refusing MQTT command journal ${path}: it is a symlink, not followed`);
    throw error;
  }
}

export class CommandJournal {
  readonly path: string;
  readonly #mem: SharedMemory;
  /** A cleared slot's state byte. */
  static readonly #EMPTY = Buffer.of(0);
  readonly #entries = new Map<number, JournalEntry>();
  readonly #intents = new Map<number, Intent>();
  /** One intent's bytes, reused: recording an intent is on every command's path. */
  readonly #intent = Buffer.alloc(SLOT);

  /** Opens (creating it 0600) the journal at `path` and reads what a previous run left. */
  constructor(path: string) {
    this.path = path;
    const fd = openJournal(path);
    try {
      const stats = fstatSync(fd);
      // Nothing is read from or written to what is not a plain file (a FIFO, a device), before the mapping would refuse it.
      if (!stats.isFile()) throw new Error(`refusing MQTT command journal ${path}: it is not a regular file`);
      const size = Math.min(stats.size, SIZE);
      // Read through the file, not the mapping: reading unused slots there would make them resident.
      const chunk = Buffer.alloc(CHUNK);
      for (let at = 0; at < size; at += CHUNK) {
        const read = readSync(fd, chunk, 0, CHUNK, at);
        for (let off = 0; off + 3 <= read; off += SLOT) this.#load((at + off) / SLOT, chunk.subarray(off, Math.min(read, off + SLOT)));
      }
      // Sparse: the holes take no disk and, until a slot is used, no memory. (A journal of an older run may be shorter.)
      if (fstatSync(fd).size !== SIZE) ftruncateSync(fd, SIZE);
    } finally {
      closeSync(fd);
    }
    this.#mem = SharedMemory.open(path);
  }

  #load(id: number, slot: Buffer): void {
    const state = slot[0];
    if (id === 0) return;
    if (state === INTENT) {
      this.#loadIntent(id, slot);
      return;
    }
    if (state !== APPLIED && state !== REPUBLISHED) return;
    const length = slot.readUInt16LE(1);
    let edge: Published | undefined;
    try {
      edge = length === 0 ? undefined : (JSON.parse(slot.toString('utf8', 3, 3 + length)) as Published);
    } catch {
      // A slot cut short (a crash within its write): the command was applied, its edge is unknown.
      edge = undefined;
    }
    this.#entries.set(id, { edge, republished: state === REPUBLISHED });
  }

  #loadIntent(id: number, slot: Buffer): void {
    const length = slot.readUInt16LE(1);
    // Cut short by a crash within its write: the write it announces had not begun.
    if (length < INTENT_HEAD - 3 || slot.length < 3 + length) return;
    const level = slot[3];
    const before = slot[4];
    if ((level !== 0 && level !== 1) || (before !== 0 && before !== 1)) return;
    this.#intents.set(id, { level, before, line: slot.readUInt16LE(5), chip: slot.toString('utf8', INTENT_HEAD, 3 + length) });
  }

  /** The intents a previous run left unresolved: commands that may or may not have reached shared memory. */
  get intents(): ReadonlyMap<number, Intent> {
    return this.#intents;
  }

  /**
   * Records, before it happens, that the command with packet identifier
   * `id` writes `intent`. Returns false when the chip's name does not fit
   * (the intent then cannot be recognised after a crash).
   */
  intended(id: number, intent: Intent): boolean {
    const slot = this.#intent;
    const name = slot.write(intent.chip, INTENT_HEAD, 'utf8');
    const fits = Buffer.byteLength(intent.chip) === name;
    slot[0] = INTENT;
    slot.writeUInt16LE(INTENT_HEAD - 3 + (fits ? name : 0), 1);
    slot[3] = intent.level;
    slot[4] = intent.before;
    slot.writeUInt16LE(intent.line, 5);
    this.#mem.write(id * SLOT, slot.subarray(0, INTENT_HEAD + (fits ? name : 0)));
    return fits;
  }

  /** A previous run's intent resolved: applied (then recorded as such, see applied()) or not (then forgotten). */
  resolved(id: number): void {
    if (!this.#intents.delete(id)) return;
    if (!this.#entries.has(id)) this.#mem.write(id * SLOT, CommandJournal.#EMPTY);
  }

  /** The entries left by the previous run (before any of this run's). */
  get entries(): ReadonlyMap<number, JournalEntry> {
    return this.#entries;
  }

  has(id: number): boolean {
    return this.#entries.has(id);
  }

  /** Records that the command with packet identifier `id` was applied, with the edge it made. Returns false when the edge does not fit. */
  applied(id: number, edge: Published | undefined): boolean {
    const json = edge === undefined ? '' : JSON.stringify(edge);
    const fits = Buffer.byteLength(json) <= SLOT - 3;
    this.#write(id, APPLIED, fits ? json : '');
    this.#entries.set(id, { edge: fits ? edge : undefined, republished: false });
    return fits;
  }

  /** Its edge went out again. */
  republished(id: number): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    entry.republished = true;
    this.#mem.write(id * SLOT, Buffer.of(REPUBLISHED));
  }

  /** Its PUBACK reached the kernel: the broker will not deliver it again. */
  clear(id: number): void {
    if (!this.#entries.delete(id)) return;
    this.#mem.write(id * SLOT, CommandJournal.#EMPTY);
  }

  close(): void {
    this.#mem.close();
  }

  #write(id: number, state: number, json: string): void {
    const slot = Buffer.alloc(3 + Buffer.byteLength(json));
    slot[0] = state;
    slot.writeUInt16LE(slot.length - 3, 1);
    slot.write(json, 3, 'utf8');
    this.#mem.write(id * SLOT, slot);
  }
}
