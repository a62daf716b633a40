/**
 * A running bridge (Controller.start in-process, embedded broker on a free
 * 127.0.0.1 port) with one plain-mode chip `board` (also the chip of
 * guest.test.ts, with a real guest), and a fake guest whose
 * "firmware" loop acknowledges every interrupt and copies the button to
 * the led, like a program in the guest would. Lines: 0 button, 1 led
 * (configured output), 2 blink (direction left to the guest).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { protocol, SharedMemory } from '../../native/index.ts';
import { loadSettings } from '../../bridge/config/load.ts';
import type { Settings } from '../../bridge/config/types.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
import { freePort } from '../../testkit/ports.ts';

export const BUTTON = 0;
export const LED = 1;
export const BLINK = 2;

export interface BoardOptions {
  baseTopic?: string;
  /** `broker.users` entries, as YAML flow mappings. */
  users?: string[];
}

/**
 * Starts the bridge with the chip `board` (plain mode, its shared memory in
 * `dir`) and the embedded broker on a free port; the guest is the caller's
 * (a FakeGuest, or a QEMU guest started with `qemuArgs(settings.chips[0])`).
 */
export async function startBridge(dir: string, options: BoardOptions = {}): Promise<{ controller: Controller; settings: Settings; url: string }> {
  const port = await freePort();
  const users = options.users === undefined ? '' : `\n  users:\n${options.users.map((u) => `    - ${u}`).join('\n')}`;
  writeFileSync(
    join(dir, 'config.yaml'),
    `base_topic: ${options.baseTopic ?? 'vgpio2mqtt'}
broker:
  host: 127.0.0.1
  port: ${port}${users}
metrics: { port: null }
web: { enabled: false }
homeassistant: { enabled: false }
chips:
  - name: board
    mode: plain
    shm: ${dir}/board.shm
    ngpio: 8
    poll_ms: 5
    lines:
      - { line: ${BUTTON}, name: button }
      - { line: ${LED}, name: led, direction: output }
      - { line: ${BLINK}, name: blink }
`,
  );
  const settings = loadSettings({ args: ['-c', join(dir, 'config.yaml')], env: {} });
  const controller = await Controller.start(settings, { log: new Logger('error', 'bridge', () => undefined) });
  return { controller, settings, url: `mqtt://127.0.0.1:${port}` };
}

export class FakeBoard {
  readonly url: string;
  readonly baseTopic: string;
  readonly controller: Controller;
  readonly guest: FakeGuest;
  readonly #dir: string;
  readonly #mem: SharedMemory;
  #firmware: NodeJS.Timeout | undefined;

  private constructor(dir: string, url: string, baseTopic: string, controller: Controller, mem: SharedMemory) {
    this.#dir = dir;
    this.url = url;
    this.baseTopic = baseTopic;
    this.controller = controller;
    this.#mem = mem;
    this.guest = new FakeGuest(mem);
  }

  static async start(options: BoardOptions = {}): Promise<FakeBoard> {
    const dir = mkdtempSync('/dev/shm/vgpio-client-test-');
    const { controller, url } = await startBridge(dir, options);
    return new FakeBoard(dir, url, options.baseTopic ?? 'vgpio2mqtt', controller, SharedMemory.open(join(dir, 'board.shm')));
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
    await this.controller.stop();
    this.#mem.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
