/**
 * The web view in headless Chromium against a real bridge (embedded broker,
 * the page's MQTT over WebSocket on /mqtt) with a plain-mode chip and a
 * fake guest writing its shared memory: the chip and its lines appear;
 * TOGGLE changes the line's `in` word; a guest output change shows as the
 * line's level and as an edge on the trace (drawn pixels of the guest-edge
 * colour in its lane); a refused command shows the bridge's reason; the
 * pwm control starts a waveform whose edges reach shared memory and the
 * page, its stop stops them, and a malformed one shows the refusal; the
 * VCD download holds the edges; the page's listener serves nothing else.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { Logger } from '../../bridge/log.ts';
import { InProcessBridge } from '../../testkit/bridge-in-process.ts';
import { plainChipYaml } from '../../testkit/plain-chip.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
import { launchBrowser, pageUntil, screenshot, textOf } from '../../testkit/browser.ts';
import { until } from '../../testkit/vgpio-host.ts';

const B = 'wv';
const BUTTON = 0;
const LED = 1;
const WAVE = 2;

/** JavaScript run in the page: the model's line `name` of chip board. */
const line = (name: string): string => `globalThis.vgpio?.model.chips.get('board')?.lines.get('${name}')`;

describe('the web view with a fake guest (headless Chromium)', { timeout: 180_000 }, () => {
  let bridge: InProcessBridge;
  let dir: string;
  let guest: FakeGuest;
  let browser: Browser;
  let page: Page;
  let url: string;
  const logs: string[] = [];
  const pageErrors: string[] = [];

  before(async () => {
    bridge = await InProcessBridge.start({
      name: 'web-test',
      log: new Logger('info', 'bridge', (l) => logs.push(l)),
      config: (dir) => plainChipYaml({
        baseTopic: B, port: null, web: true, dir,
        lines: [`{ line: ${BUTTON}, name: button }`, `{ line: ${LED}, name: led, direction: output }`, `{ line: ${WAVE}, name: wave }`],
      }),
    });
    dir = bridge.dir;
    url = bridge.controller.webServer?.url ?? assert.fail('no web server');
    guest = new FakeGuest(bridge.open());
    guest.bind();
    guest.setDirection(LED, true);
    guest.enableIrq(BUTTON, { rising: true, falling: true });
    browser = await launchBrowser();
    page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    await page.goto(url);
  });

  after(async () => {
    await browser.close();
    await bridge.stop();
  });

  it('logs the page\'s URL and gives it in bridge/info', async () => {
    assert.ok(logs.some((l) => l.includes(`web view on ${url} (MQTT over WebSocket on /mqtt)`)), logs.join('\n'));
    await pageUntil(page, 'bridge/info', `${line('button')} !== undefined`);
  });

  it('shows the chip online and every line with number, name, guest direction and trigger', async () => {
    await pageUntil(page, 'the chip online', `document.querySelector('section.chip[data-chip="board"] h2 .badge')?.textContent === 'online'`);
    await pageUntil(page, 'the led as an output', `document.querySelector('tr[data-line="led"] td:nth-child(3)')?.textContent === 'output'`);
    const rows = (await page.evaluate(`[...document.querySelectorAll('section.chip[data-chip="board"] tbody tr')].map((tr) => [...tr.children].slice(0, 4).map((td) => td.textContent))`)) as string[][];
    assert.equal(rows.length, 8, 'all 8 lines of the chip');
    assert.deepEqual(rows[BUTTON], ['0', 'button', 'input', 'both']);
    assert.deepEqual(rows[LED], ['1', 'led', 'output', 'none']);
    assert.equal(await page.$('tr[data-line="led"] button'), null, 'a guest-driven line has no buttons');
  });

  it('TOGGLE changes the line in shared memory and the page shows the new level and pending/queued', async () => {
    assert.equal(guest.input(BUTTON), 0);
    await page.click('tr[data-line="button"] button[data-action="TOGGLE"]');
    await until('the toggle in shared memory', () => guest.input(BUTTON) === 1, 10_000);
    await pageUntil(page, 'the answer', `document.querySelector('tr[data-line="button"] td.result')?.textContent === 'interrupt (ON)'`);
    await pageUntil(page, 'the level ON', `document.querySelector('tr[data-line="button"] td.level')?.textContent === 'ON'`);
    await pageUntil(page, 'the host edge in the trace', `${line('button')}.counts.host === 1`);
    // The fake guest acknowledges (as the driver's interrupt handler would): the page's refresh shows it no longer pending.
    guest.ack();
    await pageUntil(page, 'pending cleared', `document.querySelector('tr[data-line="button"] td:nth-child(6)')?.textContent === '- / 0'`);
  });

  it('draws a guest output change as the line\'s level and an edge on the trace', async () => {
    guest.setOutput(LED, 1);
    await pageUntil(page, 'the led ON', `document.querySelector('tr[data-line="led"] td.level')?.textContent === 'ON'`);
    await pageUntil(page, 'the guest edge', `${line('led')}.counts.guest === 1`);
    // The guest edge's marker (orange, #ef6c00) is drawn in the led's lane (the second lane).
    const orange = await page.evaluate(`(() => {
      const canvas = document.querySelector('canvas.trace[data-chip="board"]');
      const ctx = canvas.getContext('2d');
      const dpr = devicePixelRatio;
      const lane = ctx.getImageData(0, Math.round((22 + 28) * dpr), canvas.width, Math.round(28 * dpr)).data;
      let n = 0;
      for (let i = 0; i < lane.length; i += 4) if (lane[i] === 239 && lane[i + 1] === 108 && lane[i + 2] === 0) n++;
      return n;
    })()`);
    assert.ok(typeof orange === 'number' && orange > 0, `guest-edge pixels in the led lane: ${String(orange)}`);
  });

  it('shows the bridge\'s reason when it refuses a command, and nothing changes', async () => {
    const before = guest.input(BUTTON);
    await page.evaluate(`document.querySelector('tr[data-line="button"] input.pulse-ms').value = '-5'`);
    await page.click('tr[data-line="button"] button[data-action="pulse"]');
    await pageUntil(page, 'the refusal', `document.querySelector('tr[data-line="button"] td.result.refused') !== null`);
    assert.match(await textOf(page, 'tr[data-line="button"] td.result') ?? '', /^refused: .*pulse_ms/);
    assert.equal(guest.input(BUTTON), before);
  });

  it('pauses, reads the time between two edges with the cursors, and downloads the window as VCD', async () => {
    await page.click('button[data-action="TOGGLE"]');
    await until('the second toggle', () => guest.input(BUTTON) === 0, 10_000);
    await pageUntil(page, 'both host edges', `${line('button')}.counts.host === 2`);
    const downloads = mkdtempSync(join(dir, 'downloads-'));
    const cdp = await browser.target().createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
    await page.click('button[data-action="pause"]');
    assert.equal(await textOf(page, 'button[data-action="pause"]'), 'Resume');
    // Cursor A and B on the button's two edges: click at their x positions in its lane.
    const xs = await page.evaluate(`(() => {
      const w = globalThis.vgpio.waveforms.get('board');
      const t = ${line('button')}.trace;
      const { startMs, endMs } = w.window;
      const plot = w.canvas.clientWidth - 130;
      const edges = [];
      for (let i = 1; i < t.length; i++) if (t.level(i) !== t.level(i - 1)) edges.push(t.time(i));
      return { xs: edges.map((e) => 130 + ((e - startMs) / (endMs - startMs)) * plot), delta: edges[1] - edges[0] };
    })()`) as { xs: number[]; delta: number };
    assert.equal(xs.xs.length, 2, 'two level changes of the button');
    const canvasBox = async (): Promise<{ x: number; y: number }> => await (await page.$('canvas.trace[data-chip="board"]'))?.boundingBox() ?? assert.fail('no canvas');
    const box = await canvasBox();
    for (const x of xs.xs) {
      await page.mouse.click(box.x + x, box.y + 22 + 14);
      // The readout's text changes with each click; the canvas must stay where the user aimed.
      assert.deepEqual(await canvasBox(), box, 'the canvas did not move when a cursor was placed');
    }
    await pageUntil(page, 'the readout of both cursors', `document.querySelector('.readout')?.textContent?.includes('Δ') === true`);
    const cursors = await page.evaluate(`globalThis.vgpio.waveforms.get('board').cursors`) as number[];
    assert.equal(cursors.length, 2);
    assert.ok(Math.abs((cursors[1] ?? 0) - (cursors[0] ?? 0) - xs.delta) < 1e-6, `cursor Δ ${String(cursors)} = the edges' Δ ${xs.delta}`);
    await page.click('button[data-action="VCD (all)"]');
    await until('the download', () => readdirSync(downloads).some((f) => f.endsWith('.vcd')), 10_000);
    const vcd = readFileSync(join(downloads, 'board-all.vcd'), 'utf8');
    assert.match(vcd, /\$var wire 1 ! button \$end/);
    assert.match(vcd, /\$var wire 1 " led \$end/);
    // After the initial values: the button went up and down, the led (known OFF from its retained state) up.
    const body = vcd.slice(vcd.indexOf('$dumpvars'));
    const changes = body.slice(body.indexOf('$end') + 4);
    assert.deepEqual(changes.match(/^[01]!$/gm), ['1!', '0!'], vcd);
    assert.deepEqual(changes.match(/^1"$/gm), ['1"'], vcd);
  });

  it('resumes following the clock and keeps up with the guest blinking an output: one guest edge per change', async () => {
    await page.click('button[data-action="pause"]');
    assert.equal(await textOf(page, 'button[data-action="pause"]'), 'Pause');
    await page.click('button[data-action="zoom in"]');
    await page.click('button[data-action="zoom in"]');
    for (let i = 0; i < 20; i += 1) {
      guest.setOutput(LED, i % 2 === 0 ? 0 : 1);
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    await pageUntil(page, 'every blink', `${line('led')}.counts.guest === 21`);
    await screenshot(page, 'web-page');
  });

  it('starts a pwm waveform from the line\'s control: its edges reach shared memory and the page; stop stops them', async () => {
    const row = 'tr[data-line="wave"]';
    await page.evaluate(`document.querySelector('${row} input.pwm-period').value = '40'; document.querySelector('${row} input.pwm-duty').value = '50'`);
    await page.click(`${row} button[data-action="pwm"]`);
    await pageUntil(page, 'the answer', `document.querySelector('${row} td.result.ok')?.textContent === 'applied (ON)'`);
    // The fake guest has no interrupt enabled on the line: each step is written to `in` at once (every 20 ms, `until` looks every 10 ms).
    let flips = 0;
    let last = guest.input(WAVE);
    await until('the waveform in shared memory', () => {
      const now = guest.input(WAVE);
      if (now !== last) flips += 1;
      last = now;
      return flips >= 4;
    }, 10_000);
    await pageUntil(page, 'the waveform\'s host edges on the page', `${line('wave')}.counts.host >= 6`);
    await page.click(`${row} button[data-action="stop"]`);
    await pageUntil(page, 'the stop\'s answer', `/^(applied|unchanged|queued|interrupt) \\(OFF\\)$/.test(document.querySelector('${row} td.result.ok')?.textContent ?? '')`);
    assert.equal(guest.input(WAVE), 0, 'stopped OFF');
    const edges = (await page.evaluate(`${line('wave')}.counts.host`)) as number;
    // Absence takes a wait: 5 periods of the stopped wave.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(guest.input(WAVE), 0, 'no step after the stop');
    assert.equal(await page.evaluate(`${line('wave')}.counts.host`), edges, 'no edge after the stop');
  });

  it('shows the bridge\'s refusal of a malformed pwm, and starts nothing', async () => {
    const row = 'tr[data-line="wave"]';
    const edges = (await page.evaluate(`${line('wave')}.counts.host`)) as number;
    await page.evaluate(`document.querySelector('${row} input.pwm-duty').value = '150'`);
    await page.click(`${row} button[data-action="pwm"]`);
    await pageUntil(page, 'the refusal', `document.querySelector('${row} td.result.refused') !== null`);
    assert.match(await textOf(page, `${row} td.result`) ?? '', /^refused: "pwm.duty" "150" is not allowed/);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(guest.input(WAVE), 0);
    assert.equal(await page.evaluate(`${line('wave')}.counts.host`), edges, 'nothing started');
  });

  it('serves only the page\'s files, with a content security policy, and no page error happened', async () => {
    const index = await fetch(url);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal((await fetch(new URL('/../package.json', url))).status, 404);
    assert.equal((await fetch(new URL('/config.json', url))).status, 200);
    assert.equal((await fetch(new URL('/app.js', url), { method: 'POST' })).status, 405);
    assert.deepEqual(pageErrors, []);
  });
});
