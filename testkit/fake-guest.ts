/**
 * A stand-in for the guest driver in bridge tests: it writes the
 * guest-owned words of a vgpio region (guest_gen, guest_peer, out, dir,
 * irq_*, acknowledging in irq_ack, appending to the event ring) with
 * offsets from the addon's protocol constants, and, when given an ivshmem
 * client, rings the host like the driver does. Like the driver it writes
 * only guest-owned words.
 */
import { protocol, type DoorbellEndpoint, type SharedMemory } from '../native/index.ts';

type Mem = Pick<SharedMemory, 'load32' | 'store32' | 'fetchOr32' | 'fetchAnd32' | 'write'>;

export class FakeGuest {
  readonly mem: Mem;
  readonly endpoint: DoorbellEndpoint | undefined;
  #gen: number;

  constructor(mem: Mem, endpoint?: DoorbellEndpoint) {
    this.mem = mem;
    this.endpoint = endpoint;
    this.#gen = mem.load32(protocol.HDR_GUEST_GEN);
  }

  get bankOff(): number {
    return this.mem.load32(protocol.HDR_BANK_OFF);
  }

  #word(line: number, field: number): number {
    return this.bankOff + Math.floor(line / protocol.BANK_LINES) * protocol.BANK_STRIDE + field;
  }

  #bit(line: number): number {
    return (1 << (line % protocol.BANK_LINES)) >>> 0;
  }

  #set(line: number, field: number, on: boolean): void {
    if (on) this.mem.fetchOr32(this.#word(line, field), this.#bit(line));
    else this.mem.fetchAnd32(this.#word(line, field), ~this.#bit(line) >>> 0);
  }

  #get(line: number, field: number): boolean {
    return (this.mem.load32(this.#word(line, field)) & this.#bit(line)) !== 0;
  }

  /** Probe: guest_peer = own id (or PEER_NONE), guest_gen moves to the next odd value. */
  bind(peer: number = this.endpoint?.id ?? protocol.PEER_NONE): void {
    this.mem.store32(protocol.HDR_GUEST_PEER, peer);
    this.#gen = (this.#gen | 1) === this.#gen ? this.#gen + 2 : this.#gen + 1;
    this.mem.store32(protocol.HDR_GUEST_GEN, this.#gen);
  }

  /** Remove: guest_gen moves to the next even value. */
  unbind(): void {
    this.#gen = (this.#gen & 1) === 1 ? this.#gen + 1 : this.#gen + 2;
    this.mem.store32(protocol.HDR_GUEST_GEN, this.#gen);
  }

  input(line: number): 0 | 1 {
    return this.#get(line, protocol.BANK_IN) ? 1 : 0;
  }

  pending(line: number): boolean {
    return this.#get(line, protocol.BANK_IRQ_RAISE) !== this.#get(line, protocol.BANK_IRQ_ACK);
  }

  ackRequested(line: number): boolean {
    return this.#get(line, protocol.BANK_ACK_REQ);
  }

  setDirection(line: number, output: boolean, log = true): void {
    this.#set(line, protocol.BANK_DIR, output);
    if (log) this.append(line, protocol.EV_DIRECTION, output ? 1 : 0);
  }

  /** Enables an edge interrupt on an input line, as a gpiomon would, and reports it in the ring as the driver does. */
  enableIrq(line: number, edges: { rising?: boolean; falling?: boolean }): void {
    this.#set(line, protocol.BANK_IRQ_RISE, edges.rising ?? false);
    this.#set(line, protocol.BANK_IRQ_FALL, edges.falling ?? false);
    this.#set(line, protocol.BANK_IRQ_EN, true);
    this.#reportIrq(line);
  }

  /** Disables the line's interrupt (its consumer freed it) and reports it in the ring. */
  disableIrq(line: number): void {
    this.#set(line, protocol.BANK_IRQ_EN, false);
    this.#reportIrq(line);
  }

  /** Masks or unmasks the line's interrupt as the driver's flow handler does around each interrupt: no ring entry. */
  maskIrq(line: number, masked: boolean): void {
    this.#set(line, protocol.BANK_IRQ_EN, !masked);
  }

  /** EV_IRQ_CONFIG with the line's trigger and enable bits, as the driver posts at enable, disable and a trigger change. */
  #reportIrq(line: number): void {
    const bits: [number, number][] = [
      [protocol.BANK_IRQ_RISE, protocol.IRQ_RISE],
      [protocol.BANK_IRQ_FALL, protocol.IRQ_FALL],
      [protocol.BANK_IRQ_HIGH, protocol.IRQ_HIGH],
      [protocol.BANK_IRQ_LOW, protocol.IRQ_LOW],
      [protocol.BANK_IRQ_EN, protocol.IRQ_ENABLED],
    ];
    this.append(line, protocol.EV_IRQ_CONFIG, bits.reduce((value, [field, flag]) => (this.#get(line, field) ? value | flag : value), 0));
  }

  /** Drives an output line and reports it in the ring. */
  setOutput(line: number, level: 0 | 1, log = true): void {
    this.#set(line, protocol.BANK_OUT, level === 1);
    if (log) this.append(line, protocol.EV_OUTPUT, level);
  }

  /**
   * Acknowledges every pending line (the interrupt handler): irq_ack takes
   * the value of irq_raise as read. Returns the lines that were pending.
   */
  ack(): number[] {
    const ngpio = this.mem.load32(protocol.HDR_NGPIO);
    const lines: number[] = [];
    let askRing = false;
    for (let bank = 0; bank * protocol.BANK_LINES < ngpio; bank++) {
      const base = this.bankOff + bank * protocol.BANK_STRIDE;
      const raise = this.mem.load32(base + protocol.BANK_IRQ_RAISE);
      const pend = (raise ^ this.mem.load32(base + protocol.BANK_IRQ_ACK)) >>> 0;
      if (pend === 0) continue;
      this.mem.store32(base + protocol.BANK_IRQ_ACK, raise);
      for (let i = 0; i < 32; i++) if ((pend >>> i) & 1) lines.push(bank * 32 + i);
      const ackReq = this.mem.load32(base + protocol.BANK_ACK_REQ);
      if ((ackReq & pend) !== 0) askRing = true;
    }
    if (askRing) this.ringHost();
    return lines;
  }

  /** Appends an entry to the event ring (no ring of the host). */
  append(line: number, kind: number, value: number): void {
    const ringOff = this.mem.load32(protocol.HDR_RING_OFF);
    const ringLen = this.mem.load32(protocol.HDR_RING_LEN);
    const head = this.mem.load32(ringOff + protocol.RING_HEAD);
    const tail = this.mem.load32(ringOff + protocol.RING_TAIL);
    if (((head - tail) >>> 0) >= ringLen) {
      this.mem.store32(ringOff + protocol.RING_DROPPED, this.mem.load32(ringOff + protocol.RING_DROPPED) + 1);
      return;
    }
    const entry = Buffer.alloc(protocol.EVENT_SIZE);
    entry.writeBigUInt64LE(process.hrtime.bigint(), protocol.EVENT_GUEST_NS);
    entry.writeUInt16LE(line, protocol.EVENT_LINE);
    entry.writeUInt8(kind, protocol.EVENT_KIND);
    entry.writeUInt8(value, protocol.EVENT_VALUE);
    entry.writeUInt32LE(head, protocol.EVENT_SEQ);
    this.mem.write(ringOff + protocol.RING_HEADER_SIZE + (head % ringLen) * protocol.EVENT_SIZE, entry);
    this.mem.store32(ringOff + protocol.RING_HEAD, (head + 1) >>> 0);
  }

  /** Rings the host's vector, when there is a doorbell. */
  ringHost(): void {
    if (this.endpoint === undefined) return;
    this.endpoint.ring(this.mem.load32(protocol.HDR_HOST_PEER), protocol.VECTOR_HOST);
  }
}
