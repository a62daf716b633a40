/**
 * A bridge and one x86_64 TCG guest (vgpio.ko, plain mode) for the replay
 * and decoding figures: input lines `a` and `b` that `vgpio2mqtt play`
 * drives, outputs `tx`, `scl` and `sda` that the guest's bitbang program
 * (testkit/programs/bitbang) drives as UART and I2C. test/capture/guest-play.test.ts
 * and `npm run bench:replay` share it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../bridge/settings/load.ts';
import { Controller } from '../bridge/controller.ts';
import { Logger } from '../bridge/log.ts';
import { qemuArgs } from '../bridge/guest-setup/qemu-args.ts';
import { connect, type Vgpio } from '../client/index.ts';
import { buildVgpio, type ModuleBuild } from '../testkit/build-module.ts';
import { buildGuestProgram, chipByLabel } from '../testkit/vgpio-host.ts';
import { Guest } from '../testkit/guest.ts';
import { guestKernel } from '../testkit/kernel.ts';
import { plainChipYaml } from '../testkit/plain-chip.ts';
import { freePort } from '../testkit/ports.ts';

export const CHIP = 'board';
export const LINES = { a: 0, b: 1, tx: 4, scl: 5, sda: 6 } as const;

export class ReplayRig {
  readonly dir: string;
  readonly config: string;
  readonly guest: Guest;
  readonly vgpio: Vgpio;
  /** The guest's /dev entry of the chip, e.g. gpiochip0. */
  readonly device: string;
  readonly #controller: Controller;
  readonly #module: ModuleBuild;

  private constructor(dir: string, config: string, controller: Controller, module: ModuleBuild, guest: Guest, vgpio: Vgpio, device: string) {
    this.dir = dir;
    this.config = config;
    this.#controller = controller;
    this.#module = module;
    this.guest = guest;
    this.vgpio = vgpio;
    this.device = device;
  }

  static async start(): Promise<ReplayRig> {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-replay-'));
    const port = await freePort();
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      plainChipYaml({
        baseTopic: 'rp',
        port,
        dir,
        chip: CHIP,
        lines: [`{ line: ${LINES.a}, name: a }`, `{ line: ${LINES.b}, name: b }`, ...(['tx', 'scl', 'sda'] as const).map((name) => `{ line: ${LINES[name]}, name: ${name}, direction: output }`)],
      }),
    );
    const settings = loadSettings({ args: ['-c', config], env: {} });
    const controller = await Controller.start(settings, { log: new Logger('error', 'bridge') });
    const module = buildVgpio(guestKernel().headersDir);
    const chip = settings.chips[0];
    if (chip === undefined) throw new Error('no chip');
    let guest: Guest | undefined;
    try {
      guest = await Guest.boot({
        // gpiodetect: chipByLabel finds the chip's /dev entry with it.
        binaries: ['/usr/bin/gpiodetect'],
        files: [
          { dest: '/lib/vgpio.ko', src: module.ko, mode: 0o644 },
          { dest: '/bin/bitbang', src: buildGuestProgram(join(import.meta.dirname, '../testkit/programs/bitbang/bitbang.c'), join(dir, 'bitbang')), mode: 0o755 },
        ],
        initCommands: ['insmod /lib/vgpio.ko poll_ms=1'],
        qemuArgs: qemuArgs(chip),
      });
      const vgpio = await connect({ url: `mqtt://127.0.0.1:${port}`, baseTopic: 'rp' });
      await vgpio.chip(CHIP).waitOnline({ timeoutMs: 120_000 });
      return new ReplayRig(dir, config, controller, module, guest, vgpio, await chipByLabel(guest, CHIP));
    } catch (error) {
      const console = guest?.console.tail(3000) ?? '';
      await guest?.close();
      await controller.stop();
      module.remove();
      throw new Error(`${(error as Error).message}\nguest console:\n${console}`);
    }
  }

  async close(): Promise<void> {
    await this.vgpio.close();
    await this.guest.close();
    await this.#controller.stop();
    this.#module.remove();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
