/**
 * The web view as a newcomer sees it, in headless Chromium against a real
 * bridge (embedded broker) with a plain-mode chip and NO guest: the chip is
 * listed offline with the QEMU options that attach a guest (selectable,
 * with a copy button); a fake guest attaches and the chip goes online; and
 * a page opened after the guest blinked its LED starts its waveform with
 * those edges (bridge/request/trace), each once, then follows live ones.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'puppeteer-core';
import { InProcessBridge } from '../../testkit/bridge-in-process.ts';
import { plainChipYaml } from '../../testkit/plain-chip.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
import { launchBrowser, pageUntil, textOf } from '../../testkit/browser.ts';

const LED = 1;
const chipSection = 'section.chip[data-chip="board"]';
const led = `globalThis.vgpio?.model.chips.get('board')?.lines.get('led')`;

describe('the web view of a chip without a guest, then with one (headless Chromium)', { timeout: 180_000 }, () => {
  let bridge: InProcessBridge;
  let dir: string;
  let browser: Browser;
  let first: Page;
  let url: string;
  const pageErrors: string[] = [];

  before(async () => {
    bridge = await InProcessBridge.start({
      name: 'newcomer-test',
      config: (dir) => plainChipYaml({ baseTopic: 'nc', port: null, web: true, dir, ngpio: 4, lines: ['{ line: 0, name: button }', `{ line: ${LED}, name: led, direction: output }`] }),
    });
    dir = bridge.dir;
    url = bridge.controller.webServer?.url ?? assert.fail('no web server');
    browser = await launchBrowser();
    first = await browser.newPage();
    first.on('pageerror', (error) => pageErrors.push(String(error)));
    await first.goto(url);
  });

  after(async () => {
    await browser.close();
    await bridge.stop();
  });

  it('lists the configured chip offline, with the QEMU options that attach a guest and a copy button', async () => {
    await pageUntil(first, 'the chip offline', `document.querySelector('${chipSection} h2 .badge')?.textContent === 'offline'`);
    await pageUntil(first, 'the attach block', `document.querySelector('${chipSection} .attach')?.hidden === false`);
    const command = await textOf(first, `${chipSection} pre.attach-command`) ?? '';
    assert.match(command, /^qemu-system-x86_64 /);
    assert.ok(command.includes(`memory-backend-file,id=vgpio-board,share=on,mem-path=${dir}/board.shm`), command);
    assert.ok(command.includes('-device ivshmem-plain,memdev=vgpio-board'), command);
    assert.equal(await first.evaluate(`getComputedStyle(document.querySelector('${chipSection} pre.attach-command')).userSelect`), 'all');
    assert.notEqual(await first.$(`${chipSection} .attach button[data-action="copy"]`), null);
    assert.equal(await first.$$eval(`${chipSection} tbody tr`, (rows) => rows.length), 4, 'every line is listed');
  });

  it('shows the chip online once a guest attaches, and hides the attach block', async () => {
    const guest = new FakeGuest(bridge.open());
    guest.bind();
    guest.setDirection(LED, true);
    await pageUntil(first, 'the chip online', `document.querySelector('${chipSection} h2 .badge')?.textContent === 'online'`);
    assert.equal(await first.evaluate(`document.querySelector('${chipSection} .attach').hidden`), true);
    // Edges made now, before the second page opens.
    for (let i = 0; i < 3; i += 1) {
      guest.setOutput(LED, i % 2 === 0 ? 1 : 0);
      await pageUntil(first, `guest edge ${i + 1} on the first page`, `${led}?.counts.guest === ${i + 1}`);
    }
    const opened = Date.now();
    const second = await browser.newPage();
    second.on('pageerror', (error) => pageErrors.push(String(error)));
    await second.goto(url);
    await pageUntil(second, 'the history loaded', `globalThis.vgpio?.model.chips.get('board')?.historyLoaded === true`);
    await pageUntil(second, 'the three earlier guest edges', `${led}?.counts.guest === 3`);
    const times = (await second.evaluate(`(() => {
      const t = ${led}.trace;
      const out = [];
      for (let i = 0; i < t.length; i++) if (t.kind(i) === 2) out.push(t.time(i));
      return out;
    })()`)) as number[];
    assert.equal(times.length, 3, `guest edges in the trace: ${String(times)}`);
    assert.ok(times.every((t) => t < opened), `every edge is from before the page opened (${opened}): ${String(times)}`);
    guest.setOutput(LED, 0);
    await pageUntil(second, 'the live edge', `${led}?.counts.guest === 4`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await second.evaluate(`${led}.counts.guest`), 4, 'no edge counted twice');
    assert.deepEqual(pageErrors, []);
  });
});
