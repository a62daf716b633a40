/**
 * Per-line access to the bank registers of a region: line n is bit n % 32
 * of bank n / 32. Only host-owned words (in, irq_raise, ack_req) are ever
 * written here, and guest-owned words are only read: no word is
 * read-modify-written by both sides (docs/protocol.md says why). A line's
 * interrupt is pending while its irq_raise and irq_ack bits differ.
 */
import { protocol } from '../../native/index.ts';
import type { SharedRegisters } from './region.ts';

export type Level = 0 | 1;

export interface IrqConfig {
  enabled: boolean;
  rising: boolean;
  falling: boolean;
  high: boolean;
  low: boolean;
}

/** Everything the guest and host registers say about one line, read at one moment. */
export interface LineState {
  /** What the host drives (the `in` word). */
  input: Level;
  /** What the guest drives (the `out` word). */
  output: Level;
  /** The guest configured the line as an output. */
  isOutput: boolean;
  /** The level the line has: `output` for an output, else `input`. */
  level: Level;
  irq: IrqConfig;
  /** The host raised the line's interrupt and the guest has not acknowledged it. */
  pending: boolean;
  ackRequested: boolean;
}

/** The words of one bank, read together. */
export interface BankWords {
  in: number;
  out: number;
  dir: number;
  irqEn: number;
  irqRise: number;
  irqFall: number;
  irqHigh: number;
  irqLow: number;
  /** Host-owned: a line's bit flips when the host raises its interrupt. */
  irqRaise: number;
  /** Guest-owned: a line's bit flips when the guest acknowledges its interrupt. */
  irqAck: number;
  /** Lines pending: irqRaise ^ irqAck. */
  irqPend: number;
  ackReq: number;
}

const bit = (word: number, index: number): boolean => ((word >>> index) & 1) === 1;

export class LineRegisters {
  readonly #mem: SharedRegisters;
  readonly #bankOff: number;
  readonly ngpio: number;

  constructor(mem: SharedRegisters, bankOff: number, ngpio: number) {
    this.#mem = mem;
    this.#bankOff = bankOff;
    this.ngpio = ngpio;
  }

  get banks(): number {
    return Math.ceil(this.ngpio / protocol.BANK_LINES);
  }

  #check(line: number): void {
    if (!Number.isInteger(line) || line < 0 || line >= this.ngpio) {
      throw new RangeError(`line ${line} does not exist (0..${this.ngpio - 1})`);
    }
  }

  #word(line: number, field: number): number {
    return this.#bankOff + Math.floor(line / protocol.BANK_LINES) * protocol.BANK_STRIDE + field;
  }

  #mask(line: number): number {
    return (1 << (line % protocol.BANK_LINES)) >>> 0;
  }

  #readBit(line: number, field: number): boolean {
    this.#check(line);
    return (this.#mem.load32(this.#word(line, field)) & this.#mask(line)) !== 0;
  }

  #setBit(line: number, field: number, on: boolean): boolean {
    this.#check(line);
    const mask = this.#mask(line);
    const before = on
      ? this.#mem.fetchOr32(this.#word(line, field), mask)
      : this.#mem.fetchAnd32(this.#word(line, field), ~mask >>> 0);
    return (before & mask) !== 0;
  }

  /** The level the host drives onto `line`. */
  input(line: number): Level {
    return this.#readBit(line, protocol.BANK_IN) ? 1 : 0;
  }

  /** Drives `line` to `level`; returns the level it had before. */
  setInput(line: number, level: Level): Level {
    return this.#setBit(line, protocol.BANK_IN, level === 1) ? 1 : 0;
  }

  /** Whether the guest drives `line` (its direction bit): one word read, where state() reads the bank. */
  isOutput(line: number): boolean {
    return this.#readBit(line, protocol.BANK_DIR);
  }

  /** Whether the guest asked for an interrupt on `line` changing to `level` (an edge or a level trigger): at most three words read. */
  wantsInterrupt(line: number, level: Level): boolean {
    if (!this.#readBit(line, protocol.BANK_IRQ_EN)) return false;
    return level === 1
      ? this.#readBit(line, protocol.BANK_IRQ_RISE) || this.#readBit(line, protocol.BANK_IRQ_HIGH)
      : this.#readBit(line, protocol.BANK_IRQ_FALL) || this.#readBit(line, protocol.BANK_IRQ_LOW);
  }

  pending(line: number): boolean {
    this.#check(line);
    const raise = this.#mem.load32(this.#word(line, protocol.BANK_IRQ_RAISE));
    const ack = this.#mem.load32(this.#word(line, protocol.BANK_IRQ_ACK));
    return ((raise ^ ack) & this.#mask(line)) !== 0;
  }

  /**
   * Raises the line's interrupt, unless it is still pending; returns
   * whether it was. Flipping the bit is a plain load and store: the host is
   * the word's only writer, and the guest only flips its own irq_ack bit of
   * a line that is pending, so neither can undo the other.
   */
  raisePending(line: number): boolean {
    if (this.pending(line)) return true;
    const word = this.#word(line, protocol.BANK_IRQ_RAISE);
    this.#mem.store32(word, (this.#mem.load32(word) ^ this.#mask(line)) >>> 0);
    return false;
  }

  /**
   * Asks the guest to send a doorbell once it acknowledges `line` (or stops asking).
   * An atomic fetch-OR/AND, so it is also a full barrier: the caller's next
   * look at pending() cannot be ordered before it (the guest stores irq_ack
   * and then reads ack_req; one of the two sides sees the other).
   */
  setAckRequest(line: number, on: boolean): void {
    this.#setBit(line, protocol.BANK_ACK_REQ, on);
  }

  /** All words of bank `bank`. */
  bank(bank: number): BankWords {
    if (!Number.isInteger(bank) || bank < 0 || bank >= this.banks) throw new RangeError(`bank ${bank} does not exist`);
    const base = this.#bankOff + bank * protocol.BANK_STRIDE;
    const load = (field: number): number => this.#mem.load32(base + field);
    const irqRaise = load(protocol.BANK_IRQ_RAISE);
    const irqAck = load(protocol.BANK_IRQ_ACK);
    return {
      in: load(protocol.BANK_IN),
      out: load(protocol.BANK_OUT),
      dir: load(protocol.BANK_DIR),
      irqEn: load(protocol.BANK_IRQ_EN),
      irqRise: load(protocol.BANK_IRQ_RISE),
      irqFall: load(protocol.BANK_IRQ_FALL),
      irqHigh: load(protocol.BANK_IRQ_HIGH),
      irqLow: load(protocol.BANK_IRQ_LOW),
      irqRaise,
      irqAck,
      irqPend: (irqRaise ^ irqAck) >>> 0,
      ackReq: load(protocol.BANK_ACK_REQ),
    };
  }

  /** One line's state, taken from a bank read (see `bank`). */
  static lineFromBank(words: BankWords, line: number): LineState {
    const i = line % protocol.BANK_LINES;
    const input: Level = bit(words.in, i) ? 1 : 0;
    const output: Level = bit(words.out, i) ? 1 : 0;
    const isOutput = bit(words.dir, i);
    return {
      input,
      output,
      isOutput,
      level: isOutput ? output : input,
      irq: {
        enabled: bit(words.irqEn, i),
        rising: bit(words.irqRise, i),
        falling: bit(words.irqFall, i),
        high: bit(words.irqHigh, i),
        low: bit(words.irqLow, i),
      },
      pending: bit(words.irqPend, i),
      ackRequested: bit(words.ackReq, i),
    };
  }

  state(line: number): LineState {
    this.#check(line);
    return LineRegisters.lineFromBank(this.bank(Math.floor(line / protocol.BANK_LINES)), line);
  }

  /** Every line's state, reading each bank once. */
  snapshot(): LineState[] {
    const states: LineState[] = [];
    for (let b = 0; b < this.banks; b++) {
      const words = this.bank(b);
      const last = Math.min(this.ngpio, (b + 1) * protocol.BANK_LINES);
      for (let line = b * protocol.BANK_LINES; line < last; line++) states.push(LineRegisters.lineFromBank(words, line));
    }
    return states;
  }
}
