/**
 * Only the page's own origin (and web.allowed_origins) may use the web
 * view's MQTT over WebSocket, against a real bridge and headless Chromium:
 * a page served from another port of 127.0.0.1 cannot open the WebSocket
 * (on /mqtt of the web listener nor on broker.ws_port) and changes no
 * line; a page from an allowed origin can; the bridge's own page still
 * connects and drives a line. Raw clients: `Origin: http://evil.example`
 * gets 403 before the handshake, the page's own origin and no Origin at
 * all (mqtt.js in Node, the mosquitto tools) connect; `Host: evil.example`
 * gets 403 for the page and /config.json (DNS rebinding). Refusals are
 * counted by kind and logged once per episode, not once each.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { SharedMemory } from '../../native/index.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
import { launchBrowser, pageUntil } from '../../testkit/browser.ts';
import { freePort } from '../../testkit/ports.ts';
import { packets } from '../support/raw-mqtt.ts';
import { getStatus as get, handshake } from '../support/web-requests.ts';
import { until } from '../../testkit/vgpio-host.ts';

const B = 'og';
const BUTTON = 0;

/**
 * A page that opens a WebSocket to `target` and, should it open, sends a
 * CONNECT and a PUBLISH of ON to the button's /set; window.result says
 * what happened.
 */
function attackPage(target: string): string {
  const bytes = (b: Buffer): string => JSON.stringify([...b]);
  return `<!doctype html><script>
  window.result = 'pending';
  const ws = new WebSocket(${JSON.stringify(target)}, 'mqtt');
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => {
    window.result = 'open';
    ws.send(new Uint8Array(${bytes(packets.connect('evil'))}));
    ws.send(new Uint8Array(${bytes(packets.publish(`${B}/board/button/set`, 'ON'))}));
  };
  ws.onerror = () => { if (window.result === 'pending') window.result = 'error'; };
  ws.onclose = () => { if (window.result === 'pending') window.result = 'closed'; };
</script>`;
}

/** An HTTP server on 127.0.0.1:`port` answering every request with `html`. */
async function pageServer(port: number, html: () => string): Promise<Server> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' }).end(html());
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

describe('the web view\'s origin check (headless Chromium)', { timeout: 180_000 }, () => {
  let dir: string;
  let controller: Controller;
  let mem: SharedMemory;
  let guest: FakeGuest;
  let browser: Browser;
  let foreign: Server;
  let allowed: Server;
  let webPort: number;
  let wsPort: number;
  let foreignPort: number;
  let allowedPort: number;
  let target = '';
  const logs: string[] = [];

  before(async () => {
    dir = mkdtempSync('/dev/shm/vgpio-origin-test-');
    [wsPort, foreignPort, allowedPort] = [await freePort(), await freePort(), await freePort()];
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `base_topic: ${B}
broker: { port: null, ws_port: ${wsPort} }
metrics: { port: null }
web: { port: 0, allowed_origins: ['http://127.0.0.1:${allowedPort}'] }
homeassistant: { enabled: false }
chips: [{ name: board, mode: plain, shm: '${dir}/board.shm', poll_ms: 5, ngpio: 8, lines: [{ line: ${BUTTON}, name: button }] }]
`,
    );
    controller = await Controller.start(loadSettings({ args: ['-c', config], env: {} }), { log: new Logger('info', 'bridge', (l) => logs.push(l)) });
    webPort = controller.webServer?.address.port ?? assert.fail('no web server');
    mem = SharedMemory.open(join(dir, 'board.shm'));
    guest = new FakeGuest(mem);
    guest.bind();
    foreign = await pageServer(foreignPort, () => attackPage(target));
    allowed = await pageServer(allowedPort, () => attackPage(target));
    browser = await launchBrowser();
  });

  after(async () => {
    await browser.close();
    foreign.close();
    allowed.close();
    await controller.stop();
    mem.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Loads the page of `port` (trying `target`) and waits for its verdict. */
  const attack = async (port: number, url: string): Promise<string> => {
    target = url;
    const page: Page = await browser.newPage();
    try {
      await page.goto(`http://127.0.0.1:${port}/`);
      await pageUntil(page, 'the WebSocket to open or fail', `window.result !== 'pending'`);
      // Give an opened socket time to deliver its PUBLISH.
      await new Promise((resolve) => setTimeout(resolve, 500));
      return (await page.evaluate('window.result')) as string;
    } finally {
      await page.close();
    }
  };

  it('refuses a page from another port, on /mqtt and on broker.ws_port, and no line changes', async () => {
    assert.equal(await attack(foreignPort, `ws://127.0.0.1:${webPort}/mqtt`), 'error');
    assert.equal(await attack(foreignPort, `ws://127.0.0.1:${wsPort}/`), 'error');
    assert.equal(guest.input(BUTTON), 0);
    assert.ok(controller.counters.total('clientRefused', 'origin') >= 2);
  });

  it('lets a page from web.allowed_origins connect', async () => {
    assert.equal(await attack(allowedPort, `ws://127.0.0.1:${webPort}/mqtt`), 'open');
    await until('the allowed page\'s command in shared memory', () => guest.input(BUTTON) === 1, 10_000);
    guest.ack();
  });

  it('lets the bridge\'s own page connect and drive a line', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`http://127.0.0.1:${webPort}/`);
      const before = guest.input(BUTTON);
      await pageUntil(page, 'the button\'s row', `document.querySelector('tr[data-line="button"] button[data-action="TOGGLE"]') !== null`);
      await page.click('tr[data-line="button"] button[data-action="TOGGLE"]');
      await until('the toggle in shared memory', () => guest.input(BUTTON) !== before, 10_000);
      guest.ack();
    } finally {
      await page.close();
    }
  });

  it('answers a raw WebSocket with a foreign Origin 403 and lets its own Origin and none through', async () => {
    const url = `ws://127.0.0.1:${webPort}/mqtt`;
    assert.equal(await handshake(url, { origin: 'http://evil.example' }), 403);
    assert.equal(await handshake(`ws://127.0.0.1:${wsPort}/`, { origin: 'http://evil.example' }), 403);
    assert.equal(await handshake(url, { origin: `http://127.0.0.1:${webPort}` }), 'open');
    assert.equal(await handshake(url, { origin: `http://localhost:${webPort}` }), 'open');
    assert.equal(await handshake(url, {}), 'open');
    assert.equal(await handshake(`ws://127.0.0.1:${wsPort}/`, {}), 'open');
  });

  it('refuses a foreign Host (DNS rebinding) for the page and /config.json', async () => {
    assert.equal(await get(webPort, '/', { host: 'evil.example' }), 403);
    assert.equal(await get(webPort, '/config.json', { host: `evil.example:${webPort}` }), 403);
    assert.equal(await handshake(`ws://127.0.0.1:${webPort}/mqtt`, { headers: { host: 'evil.example' } }), 403);
    assert.equal(await get(webPort, '/', { host: `localhost:${webPort}` }), 200);
    assert.equal(await get(webPort, '/config.json', { host: `127.0.0.1:${webPort}` }), 200);
    assert.ok(controller.counters.total('clientRefused', 'host') >= 3);
  });

  it('logs each kind of refusal once, not once each', () => {
    const origin = logs.filter((l) => l.includes('with Origin') && l.includes('refused'));
    const host = logs.filter((l) => l.includes('for Host') && l.includes('refused'));
    assert.equal(origin.length, 1, origin.join('\n'));
    assert.equal(host.length, 1, host.join('\n'));
    assert.match(origin[0] ?? '', /warn +bridge: embedded MQTT broker: WebSocket request from 127\.0\.0\.1 with Origin "http:\/\/127\.0\.0\.1:\d+" refused: not this listener's own origin nor in web\.allowed_origins/);
  });
});
