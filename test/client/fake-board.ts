/**
 * A running bridge (Controller.start in-process, embedded broker on a free
 * 127.0.0.1 port) with one plain-mode chip `board` (also the chip of
 * guest.test.ts, with a real guest), and a fake guest whose
 * "firmware" loop acknowledges every interrupt and copies the button to
 * the led, like a program in the guest would. Lines: 0 button, 1 led
 * (configured output), 2 blink (direction left to the guest).
 */
import { protocol, type SharedMemory } from '../../native/index.ts';
import type { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { InProcessBridge } from '../../testkit/bridge-in-process.ts';
import { plainChipYaml } from '../../testkit/plain-chip.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';

export const BUTTON = 0;
export const LED = 1;
export const BLINK = 2;

export interface BoardOptions {
  baseTopic?: string;
  /** `broker.users` entries, as YAML flow mappings. */
  users?: string[];
}

/**
 * Starts the bridge with the chip `board` (plain mode, its shared memory
 * in the bridge's folder) and the embedded broker on a free port; the guest
 * is the caller's (a FakeGuest, or a QEMU guest started with
 * `qemuArgs(bridge.settings.chips[0])`).
 */
export function startBridge(options: BoardOptions = {}): Promise<InProcessBridge> {
  return InProcessBridge.start({
    name: 'client-test',
    log: new Logger('error', 'bridge', () => undefined),
    config: (dir, port) => plainChipYaml({
      baseTopic: options.baseTopic ?? 'vgpio2mqtt', port, users: options.users, dir,
      lines: [`{ line: ${BUTTON}, name: button }`, `{ line: ${LED}, name: led, direction: output }`, `{ line: ${BLINK}, name: blink }`],
    }),
  });
}

export class FakeBoard {
  readonly url: string;
  readonly baseTopic: string;
  readonly controller: Controller;
  readonly guest: FakeGuest;
  readonly #bridge: InProcessBridge;
  readonly #mem: SharedMemory;
  #firmware: NodeJS.Timeout | undefined;

  private constructor(bridge: InProcessBridge, baseTopic: string) {
    this.#bridge = bridge;
    this.url = bridge.url;
    this.baseTopic = baseTopic;
    this.controller = bridge.controller;
    this.#mem = bridge.open();
    this.guest = new FakeGuest(this.#mem);
  }

  static async start(options: BoardOptions = {}): Promise<FakeBoard> {
    return new FakeBoard(await startBridge(options), options.baseTopic ?? 'vgpio2mqtt');
  }

  /** The guest's driver binds, a consumer enables both edges of the button, and the firmware loop starts. */
  boot(): void {
    this.guest.bind();
    this.guest.setDirection(LED, true);
    this.guest.enableIrq(BUTTON, { rising: true, falling: true });
    this.#firmware = setInterval(() => {
      this.guest.ack();
      const button = this.guest.input(BUTTON);
      if (this.#out(LED) !== button) this.guest.setOutput(LED, button);
    }, 2);
  }

  #out(line: number): 0 | 1 {
    const word = this.#mem.load32(this.guest.bankOff + Math.floor(line / protocol.BANK_LINES) * protocol.BANK_STRIDE + protocol.BANK_OUT);
    return ((word >>> line % protocol.BANK_LINES) & 1) === 1 ? 1 : 0;
  }

  /**
   * The guest drives `line` to `level` and reports it in its event ring
   * stamped `guestNs` (a clock the test controls, so a measured period is
   * exact): the entry the fake guest appended gets that timestamp before the
   * bridge (same event loop) can read it.
   */
  drive(line: number, level: 0 | 1, guestNs: bigint): void {
    const mem = this.#mem;
    this.guest.setOutput(line, level);
    const ring = mem.load32(protocol.HDR_RING_OFF);
    const entry = (mem.load32(ring + protocol.RING_HEAD) - 1) % mem.load32(protocol.HDR_RING_LEN);
    const stamp = Buffer.alloc(8);
    stamp.writeBigUInt64LE(guestNs);
    mem.write(ring + protocol.RING_HEADER_SIZE + entry * protocol.EVENT_SIZE + protocol.EVENT_GUEST_NS, stamp);
  }

  async stop(): Promise<void> {
    clearInterval(this.#firmware);
    await this.#bridge.stop();
  }
}
