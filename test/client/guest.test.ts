/**
 * The client against a real x86_64 TCG guest running vgpio.ko (one boot
 * for the file): a program in the guest blinks a line at 10 Hz and
 * measure() reports its period from the guest's timestamps; a button
 * pressed from the client is seen by gpiomon in the guest; waiting for an
 * edge that never comes fails after its timeout with a message naming it.
 * The bridge runs in-process with its embedded broker (fake-board.ts's
 * startBridge), the chip in plain mode with the QEMU options `qemuArgs` prints.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { qemuArgs } from '../../bridge/guest-setup/qemu-args.ts';
import { connect, measureEdges, VgpioError, type Vgpio } from '../../client/index.ts';
import { buildVgpio, type ModuleBuild } from '../../testkit/build-module.ts';
import { background, buildGuestProgram, chipByLabel, GPIOD_TOOLS } from '../../testkit/vgpio-host.ts';
import { Guest } from '../../testkit/guest.ts';
import { guestKernel } from '../../testkit/kernel.ts';
import type { InProcessBridge } from '../../testkit/bridge-in-process.ts';
import { BLINK, BUTTON, startBridge } from './fake-board.ts';

const CHIP = 'board';
const HALF_MS = 50; // 10 Hz

describe('the client with a real guest (TCG, vgpio.ko)', { timeout: 600_000 }, () => {
  let bridge: InProcessBridge;
  let vgpioKo: ModuleBuild;
  let guest: Guest;
  let vgpio: Vgpio;

  before(async () => {
    bridge = await startBridge({ baseTopic: 'cg' });
    vgpioKo = buildVgpio(guestKernel().headersDir);
    guest = await Guest.boot({
      binaries: GPIOD_TOOLS,
      files: [
        { dest: '/lib/vgpio.ko', src: vgpioKo.ko, mode: 0o644 },
        { dest: '/bin/blink', src: buildGuestProgram(join(import.meta.dirname, 'blink', 'blink.c'), join(bridge.dir, 'blink')), mode: 0o755 },
      ],
      initCommands: ['insmod /lib/vgpio.ko poll_ms=1'],
      qemuArgs: qemuArgs(bridge.settings.chips[0] ?? assert.fail('no chip')),
    });
    vgpio = await connect({ url: bridge.url, baseTopic: 'cg' });
  });

  after(async () => {
    await vgpio.close();
    await guest.close();
    await bridge.stop();
    vgpioKo.remove();
  });

  it('sees the chip online once the driver is bound', async () => {
    await vgpio.chip(CHIP).waitOnline({ timeoutMs: 60_000 });
  });

  it('measures a 10 Hz blink in the guest from the guest\'s timestamps within ±10%', async (t) => {
    const blink = vgpio.chip(CHIP).line('blink');
    const device = await chipByLabel(guest, CHIP);
    assert.match(device, /^gpiochip\d+$/);
    const started = blink.waitFor({ edge: 'rising', source: 'guest' }, { timeoutMs: 30_000 });
    await guest.exec(`( (blink /dev/${device} ${BLINK} ${HALF_MS} 40 > /tmp/blink.out 2>&1) & )`);
    await started;
    const stream = await blink.edges();
    const m = await blink.measure({ windowMs: 2000 });
    stream.close();
    // The same edges timed by the host's ts_ms (when the bridge saw them): what measure() would report without guest_ns.
    const host = measureEdges(stream.buffered, 'host');
    t.diagnostic(`guest clock: ${JSON.stringify(m)}`);
    t.diagnostic(`host clock (ts_ms), same edges: ${JSON.stringify(host)}`);
    assert.equal(m.clock, 'guest');
    assert.ok(m.periodMs !== null && Math.abs(m.periodMs - 2 * HALF_MS) <= 0.1 * 2 * HALF_MS, `period ${String(m.periodMs)} ms`);
    assert.ok(m.dutyCycle !== null && Math.abs(m.dutyCycle - 0.5) <= 0.1, `duty cycle ${String(m.dutyCycle)}`);
    assert.ok(m.rising >= 10, `${m.rising} rising edges in 2 s`);
  });

  it('a button pressed from the client is seen by gpiomon in the guest', async (t) => {
    const chip = bridge.controller.chips.get(CHIP) ?? assert.fail('no chip');
    const line = chip.line('button') ?? assert.fail('no button');
    const monitor = await background(guest, `gpiomon -n 1 -F '%o %e' ${CHIP} ${BUTTON}`, () => chip.status(line).irq.enabled);
    const button = vgpio.chip(CHIP).line('button');
    const sent = performance.now();
    const answer = await button.set('ON');
    t.diagnostic(`set() answered ${answer.result} after ${(performance.now() - sent).toFixed(1)} ms`);
    assert.equal((await monitor.output).trim(), `${BUTTON} 1`);
    await button.expectLevel('ON');
    await button.set('OFF');
    await button.expectLevel('OFF');
  });

  it('waitFor an edge that never comes fails after its timeout, naming the edge and the level since when ("at least": the retained state, no edge seen)', async () => {
    const led = vgpio.chip(CHIP).line('led');
    const error = await led.waitFor({ edge: 'rising' }, { timeoutMs: 500 }).then(
      () => assert.fail('no edge was expected'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof VgpioError);
    assert.equal(error.code, 'timeout');
    assert.match(error.message, /^expected board\/led rising within 500 ms; saw none; level OFF since (at least )?\d\d:\d\d:\d\d\.\d{3}$/);
  });
});
