/**
 * The web view with broker.users: the page's MQTT over WebSocket meets the
 * same login rules as every other client. Without a login the page gets
 * nothing (no chip, no bridge state) and asks for one; a wrong password is
 * refused; the right one shows the chip. A plain MQTT client on /mqtt
 * without a login is refused too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Browser, Page } from 'puppeteer-core';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { launchBrowser, pageUntil, screenshot, textOf } from '../../testkit/browser.ts';

describe('the web view with broker.users (headless Chromium)', { timeout: 120_000 }, () => {
  let dir: string;
  let controller: Controller;
  let browser: Browser;
  let page: Page;
  let url: string;

  before(async () => {
    dir = mkdtempSync('/dev/shm/vgpio-web-login-');
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `base_topic: wl
broker:
  port: null
  users:
    - { username: viewer, password: s3cret-pw }
metrics: { port: null }
web: { port: 0 }
homeassistant: { enabled: false }
chips:
  - { name: locked, mode: plain, shm: ${dir}/locked.shm, ngpio: 4 }
`,
    );
    controller = await Controller.start(loadSettings({ args: ['-c', config], env: {} }), { log: new Logger('error', 'bridge', () => undefined) });
    url = controller.webServer?.url ?? assert.fail('no web server');
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.goto(url);
  });

  after(async () => {
    await browser.close();
    await controller.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses an MQTT client on /mqtt without a login', async () => {
    const wsUrl = `${url.replace(/^http/, 'ws')}mqtt`;
    await assert.rejects(mqtt.connectAsync(wsUrl, { reconnectPeriod: 0, connectTimeout: 5000 }), /Bad username or password|Not authorized/);
    const client = await mqtt.connectAsync(wsUrl, { reconnectPeriod: 0, username: 'viewer', password: 's3cret-pw' });
    await client.endAsync();
  });

  it('gives an unauthenticated page nothing and asks for a login', async () => {
    await pageUntil(page, 'the login form', `document.getElementById('login')?.hidden === false`);
    assert.match(await textOf(page, '#status') ?? '', /wants a login/);
    // Long enough for retained messages to have arrived, had the broker sent any.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(await page.evaluate('globalThis.vgpio.model.chips.size'), 0);
    assert.equal(await page.evaluate('globalThis.vgpio.model.bridgeState ?? null'), null);
    assert.equal(await page.$('section.chip'), null);
    await screenshot(page, 'web-login');
  });

  it('refuses a wrong password, then shows the chip after the right one', async () => {
    await page.type('#login input[name="username"]', 'viewer');
    await page.type('#login input[name="password"]', 'wrong');
    await page.click('#login button[type="submit"]');
    await pageUntil(page, 'the refusal', `document.getElementById('status')?.textContent?.startsWith('login refused') === true`);
    assert.equal(await page.evaluate('globalThis.vgpio.model.chips.size'), 0);
    await page.evaluate(`document.querySelector('#login input[name="password"]').value = ''`);
    await page.type('#login input[name="password"]', 's3cret-pw');
    await page.click('#login button[type="submit"]');
    await pageUntil(page, 'the chip', `document.querySelector('section.chip[data-chip="locked"]') !== null`);
    assert.match(await textOf(page, '#status') ?? '', /connected to .* as viewer/);
    assert.equal(await page.evaluate(`document.getElementById('login').hidden`), true);
  });
});
