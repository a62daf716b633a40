/**
 * Prepares the files examples/labgrid/env.yaml boots: the cached Debian
 * guest kernel (scripts/setup.sh, VGPIO_CACHE) and an initramfs with
 * vgpio.ko built for it, libgpiod's tools and a guest program that toggles
 * the LED line at each rising edge of the button line. The project's own
 * test harness builds it (testkit/initramfs.ts), so the guest is the one
 * the other tests boot.
 *
 *   node --import tsx testkit/labgrid-guest-main.ts <out-dir> [chip]
 *
 * prints {"kernel": ..., "initrd": ...} on stdout.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildVgpio } from './build-module.ts';
import { GPIOD_TOOLS } from './vgpio-host.ts';
import { buildInitramfs } from './initramfs.ts';
import { guestKernel } from './kernel.ts';

/** Line offsets the guest program uses; env.yaml's bridge configuration names them. */
const BUTTON = 0;
const LED = 1;

const [outArg, chipArg] = process.argv.slice(2);
if (outArg === undefined) {
  process.stderr.write('usage: labgrid-guest-main.ts <out-dir> [chip]\n');
  process.exit(2);
}
const out = resolve(outArg);
const chip = chipArg ?? 'board';
mkdirSync(out, { recursive: true });

const kernel = guestKernel();
const module = buildVgpio(kernel.headersDir);
try {
  const initrd = buildInitramfs(out, {
    kernel,
    binaries: GPIOD_TOOLS,
    files: [{ dest: '/vgpio.ko', src: module.ko, mode: 0o644 }],
    initCommands: [
      'insmod /vgpio.ko',
      `gpiochip=$(gpiodetect | grep '\\[${chip}\\]' | cut -d' ' -f1)`,
      // The guest's reaction under test: each press (rising edge) of the button toggles the LED.
      `(led=0; while gpiomon --num-events=1 --rising-edge $gpiochip ${BUTTON} >/dev/null; do led=$((1 - led)); gpioset $gpiochip ${LED}=$led; done) &`,
    ],
  });
  process.stdout.write(`${JSON.stringify({ kernel: kernel.vmlinuz, initrd })}\n`);
} finally {
  module.remove();
}
