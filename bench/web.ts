/**
 * The web view under load (`npm run bench` runs it after the other rows;
 * `node --import tsx bench/web.ts` runs it alone): a bridge process with a
 * plain-mode chip whose outputs a fake guest in this process toggles (one
 * line at 1,000 edges/s, then 32 lines at 50 Hz each, 1,600 edges/s), and
 * the page in headless Chromium.
 *
 * Lag: this process subscribes to the same edges over TCP and notes when
 * each arrives; the page (?stats) notes the host wall-clock time of the
 * first frame drawn after it took each edge in. The row gives that
 * difference per edge (p50/p99) and how many edges the page drew.
 *
 * Memory: with the trace buffer bounded low (?buffer=16384) and the line at
 * 1,000 edges/s, the buffer is full after ~16 s; the page's JS heap (after a
 * forced GC) is read then and 60 s later, with the buffer's length and how
 * many events it dropped, to show the bound holds and the heap does not grow.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import type { Browser, Page } from 'puppeteer-core';
import { SharedMemory } from '../native/index.ts';
import { FakeGuest } from '../testkit/fake-guest.ts';
import { launchBrowser } from '../testkit/browser.ts';
import { freePort } from '../testkit/ports.ts';
import { BridgeProcess, type BridgeBuild } from './bridge-process.ts';
import { ms, summarize, type Summary } from './samples.ts';
import { Topics } from '../bridge/mqtt/topics.ts';

const BASE = 'wb';
const topics = new Topics(BASE);
const LINES = 32;
const BOUND = 16_384;

export interface WebLagRow {
  load: string;
  published: number;
  drawn: number;
  lag: Summary;
  /** From the end of the run until the page had drawn every edge (or gave up at 60 s). */
  catchUpMs: number;
  /** The machine's 1-minute load average at the end (other work slows the browser). */
  loadAverage: number;
}

export interface WebHeapRow {
  boundEvents: number;
  bufferLength: number;
  dropped: number;
  /** Edges this process saw on the line by the time the buffer was read. */
  published: number;
  heapAtBoundMiB: number;
  heapAfterMiB: number;
  seconds: number;
}

const sleep = (msDelay: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, msDelay));

/** Toggles `lines` outputs, each at `hz` changes per second, for `seconds`, catching up every 5 ms. */
export async function toggle(guest: FakeGuest, lines: number, hz: number, seconds: number): Promise<number> {
  const started = performance.now();
  const done = new Array<number>(lines).fill(0);
  let total = 0;
  for (;;) {
    const elapsed = (performance.now() - started) / 1000;
    if (elapsed >= seconds) break;
    for (let line = 0; line < lines; line += 1) {
      // Phases spread over the period, so the lines do not all change at once.
      const due = Math.floor(elapsed * hz + line / lines);
      let n = done[line] ?? 0;
      for (; n < due; n += 1) guest.setOutput(line, n % 2 === 0 ? 1 : 0);
      total += n - (done[line] ?? 0);
      done[line] = n;
    }
    await sleep(5);
  }
  return total;
}

async function heapMiB(page: Page): Promise<number> {
  const cdp = await page.createCDPSession();
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  await cdp.detach();
  return usedSize / 2 ** 20;
}

export async function webBench(build: BridgeBuild, log: (line: string) => void): Promise<{ lag: WebLagRow[]; heap: WebHeapRow }> {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-bench-web-'));
  const port = await freePort();
  const webPort = await freePort();
  const config = `base_topic: ${BASE}\nlog_level: warn\nbroker: { port: ${port} }\nmetrics: { port: null }\nweb: { port: ${webPort} }\nhomeassistant: { enabled: false }\nchips:\n  - { name: c, mode: plain, ngpio: ${LINES}, poll_ms: 2, ring_len: 4096, shm: ${dir}/c.shm }\n`;
  const url = `mqtt://127.0.0.1:${port}`;
  const bridge = await BridgeProcess.start({ config, dir, url, baseTopic: BASE, build });
  const mem = SharedMemory.open(join(dir, 'c.shm'));
  const guest = new FakeGuest(mem);
  guest.bind();
  for (let line = 0; line < LINES; line += 1) guest.setDirection(line, true);
  const arrivals = new Map<string, number>();
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  client.on('message', (topic, payload) => {
    const seq = (JSON.parse(payload.toString()) as { seq: number }).seq;
    arrivals.set(`${topic.split('/').slice(1, 3).join('/')}/${seq}`, Date.now());
  });
  await client.subscribeAsync(topics.lineFilter('edge', 'c'), { qos: 0 });
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const page = await browser.newPage();
    const open = async (query: string): Promise<void> => {
      await page.goto(`http://127.0.0.1:${webPort}/${query}`);
      await page.waitForFunction(`globalThis.vgpio?.model.chips.get('c')?.lines.size === ${LINES}`, { timeout: 30_000 });
      await sleep(1000);
    };
    const lagRun = async (load: string, lines: number, hz: number, seconds: number): Promise<WebLagRow> => {
      await open('?stats');
      arrivals.clear();
      log(`web: ${load} for ${seconds} s`);
      await toggle(guest, lines, hz, seconds);
      // Until the page has drawn every edge this process saw, or 60 s.
      const stopped = Date.now();
      while (Date.now() - stopped < 60_000 && ((await page.evaluate('globalThis.vgpio.rendered.size')) as number) < arrivals.size) await sleep(250);
      const catchUpMs = Date.now() - stopped;
      const rendered = new Map((await page.evaluate('[...globalThis.vgpio.rendered]')) as [string, number][]);
      const lags: number[] = [];
      for (const [key, at] of arrivals) {
        const drawn = rendered.get(key);
        if (drawn !== undefined) lags.push(drawn - at);
      }
      return { load, published: arrivals.size, drawn: lags.length, lag: summarize(lags), catchUpMs, loadAverage: loadavg()[0] ?? 0 };
    };
    const lag = [
      await lagRun('1 line at 1,000 edges/s', 1, 1000, 20),
      await lagRun(`${LINES} lines at 50 Hz (1,600 edges/s)`, LINES, 50, 20),
    ];

    await open(`?buffer=${BOUND}`);
    arrivals.clear();
    log(`web: heap with the trace bounded at ${BOUND} events, 1 line at 1,000 edges/s`);
    const running = toggle(guest, 1, 1000, 85);
    await sleep(25_000);
    const heapAtBoundMiB = await heapMiB(page);
    await sleep(60_000);
    const heapAfterMiB = await heapMiB(page);
    const [bufferLength, dropped] = (await page.evaluate(`(() => { const t = globalThis.vgpio.model.chips.get('c').lines.get('0').trace; return [t.length, t.overwritten]; })()`)) as [number, number];
    const published = arrivals.size;
    await running;
    return { lag, heap: { boundEvents: BOUND, bufferLength, dropped, published, heapAtBoundMiB, heapAfterMiB, seconds: 60 } };
  } finally {
    await browser?.close();
    await client.endAsync();
    mem.close();
    await bridge.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The rows as a RESULTS.md section. */
export function webReport(r: { lag: WebLagRow[]; heap: WebHeapRow }): string {
  const rows = r.lag.map((row) => `| ${row.load} | ${row.published} | ${row.drawn} | ${ms(row.lag.p50)} | ${ms(row.lag.p99)} | ${(row.catchUpMs / 1000).toFixed(1)} | ${row.loadAverage.toFixed(1)} |`);
  const h = r.heap;
  return `
### Web view (bench/web.ts)

Lag = page frame drawn after the edge arrived − the same edge's arrival at a TCP MQTT client of the same broker (host wall clock, ms).

| load | edges published | edges drawn | lag p50 ms | lag p99 ms | s to catch up after the run | load average |
|---|---|---|---|---|---|---|
${rows.join('\n')}

Memory, trace bounded at ${h.boundEvents} events, 1 line at 1,000 edges/s: ${h.published} edges published, the buffer holds ${h.bufferLength} events (${h.dropped} oldest dropped); JS heap after GC ${h.heapAtBoundMiB.toFixed(1)} MiB once full, ${h.heapAfterMiB.toFixed(1)} MiB ${h.seconds} s later (${(h.heapAfterMiB - h.heapAtBoundMiB >= 0 ? '+' : '')}${(h.heapAfterMiB - h.heapAtBoundMiB).toFixed(2)} MiB).
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = webReport(await webBench('dist', (line) => process.stderr.write(`bench: ${line}\n`)));
  process.stdout.write(text);
}
