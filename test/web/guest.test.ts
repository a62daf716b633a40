/**
 * The web view against a real x86_64 TCG guest running vgpio.ko (one boot):
 * clicking TOGGLE twice gives gpiomon in the guest a rising then a falling
 * edge; the guest driving an output with gpioset shows on the page as the
 * line's level and a guest edge on its trace. The bridge runs the chip in
 * plain mode with the options `qemuArgs` prints.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'puppeteer-core';
import { Logger } from '../../bridge/log.ts';
import { qemuArgs } from '../../bridge/guest-setup/qemu-args.ts';
import { buildVgpio, type ModuleBuild } from '../../testkit/build-module.ts';
import { background, GPIOD_TOOLS, until } from '../../testkit/vgpio-host.ts';
import { launchBrowser, pageUntil, screenshot } from '../../testkit/browser.ts';
import { Guest } from '../../testkit/guest.ts';
import { guestKernel } from '../../testkit/kernel.ts';
import { InProcessBridge } from '../../testkit/bridge-in-process.ts';
import { plainChipYaml } from '../../testkit/plain-chip.ts';

const CHIP = 'board';
const BUTTON = 0;
const LED = 5;

describe('the web view with a real guest (TCG, vgpio.ko, headless Chromium)', { timeout: 600_000 }, () => {
  let bridge: InProcessBridge;
  let vgpio: ModuleBuild;
  let guest: Guest;
  let browser: Browser;
  let page: Page;

  before(async () => {
    bridge = await InProcessBridge.start({
      name: 'web-guest',
      log: new Logger('error', 'bridge', () => undefined),
      config: (dir) => plainChipYaml({ baseTopic: 'wg', port: null, web: true, chip: CHIP, dir, lines: [`{ line: ${BUTTON}, name: button }`, `{ line: ${LED}, name: led, direction: output }`] }),
    });
    vgpio = buildVgpio(guestKernel().headersDir);
    guest = await Guest.boot({
      binaries: GPIOD_TOOLS,
      files: [{ dest: '/lib/vgpio.ko', src: vgpio.ko, mode: 0o644 }],
      initCommands: ['insmod /lib/vgpio.ko poll_ms=1'],
      qemuArgs: qemuArgs(bridge.settings.chips[0] ?? assert.fail('no chip')),
    });
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(bridge.controller.webServer?.url ?? assert.fail('no web server'));
  });

  after(async () => {
    await browser.close();
    await guest.close();
    await bridge.stop();
    vgpio.remove();
  });

  it('shows the chip online once the driver is bound', async () => {
    await pageUntil(page, 'the chip online', `document.querySelector('section.chip[data-chip="${CHIP}"] h2 .badge')?.textContent === 'online'`, 60_000);
  });

  it('TOGGLE on the page gives gpiomon in the guest a rising, then a falling edge', async () => {
    const chip = bridge.controller.chips.get(CHIP) ?? assert.fail('no chip');
    const button = chip.line('button') ?? assert.fail('no button');
    const monitor = await background(guest, `gpiomon -n 2 -F '%o %e' ${CHIP} ${BUTTON}`, () => chip.status(button).irq.enabled);
    await pageUntil(page, 'the guest\'s trigger on the page', `document.querySelector('tr[data-line="button"] td:nth-child(4)')?.textContent === 'both'`);
    await page.click('tr[data-line="button"] button[data-action="TOGGLE"]');
    await pageUntil(page, 'the level ON', `document.querySelector('tr[data-line="button"] td.level')?.textContent === 'ON'`);
    await page.click('tr[data-line="button"] button[data-action="TOGGLE"]');
    assert.deepEqual((await monitor.output).trim().split('\n'), [`${BUTTON} 1`, `${BUTTON} 0`]);
  });

  it('shows the guest driving an output as the line\'s level and a guest edge on the trace', async () => {
    await guest.exec(`gpioset ${CHIP} ${LED}=1`);
    await pageUntil(page, 'the led ON', `document.querySelector('tr[data-line="led"] td.level')?.textContent === 'ON'`, 20_000);
    await pageUntil(page, 'the led\'s guest edge', `globalThis.vgpio.model.chips.get('${CHIP}').lines.get('led').counts.guest >= 1`);
    const lastKind = await page.evaluate(`(() => { const t = globalThis.vgpio.model.chips.get('${CHIP}').lines.get('led').trace; return t.kind(t.length - 1); })()`);
    assert.equal(lastKind, 2, 'the last event on the led\'s trace is a guest edge (Kind.GUEST_EDGE)');
    await until('a frame drawn after the edge', async () => ((await page.evaluate('globalThis.vgpio.frames')) as number) > 0);
    await screenshot(page, 'web-guest');
  });
});
