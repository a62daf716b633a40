/**
 * The web view's listener on its own (no browser): with an external broker
 * the page is told the configured WebSocket URL (and the content security
 * policy lets it connect there) or that there is no live view; a page that
 * was not built is a clear error; web.enabled false starts no listener and
 * bridge/info says so; with it on, Home Assistant's devices link to the page;
 * web.allowed_origins takes origins only, and the names a listener answers
 * to follow its bind address.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { WebServer } from '../../bridge/web-server/server.ts';
import { listenerNames } from '../../broker/origin-guard.ts';
// Raw MQTT (MqttProbe), not the typed client: Home Assistant's discovery topics, which the typed client does not speak.
import { MqttProbe } from '../../testkit/mqtt-probe.ts';
import { freePort } from '../../testkit/ports.ts';

describe('the web view\'s listener', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-web-server-'));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('tells the page an external broker\'s WebSocket URL and lets it connect only there', async () => {
    const server = await WebServer.start({ host: '127.0.0.1', port: 0, broker: undefined, page: { base_topic: 'x', version: '1', mqtt: 'wss://broker.lan:9001/mqtt' } });
    try {
      const response = await fetch(new URL('/config.json', server.url));
      assert.deepEqual(await response.json(), { base_topic: 'x', version: '1', mqtt: 'wss://broker.lan:9001/mqtt' });
      assert.match(response.headers.get('content-security-policy') ?? '', /connect-src 'self' wss:\/\/broker\.lan:9001;/);
      // No embedded broker: nothing answers WebSocket upgrades on /mqtt.
      const upgrade = await fetch(new URL('/mqtt', server.url));
      assert.equal(upgrade.status, 404);
    } finally {
      await server.close();
    }
  });

  it('says the page is not built instead of serving nothing', async () => {
    const server = await WebServer.start({ host: '127.0.0.1', port: 0, broker: undefined, page: { base_topic: 'x', version: '1', mqtt: null }, assets: join(dir, 'missing') });
    try {
      const response = await fetch(server.url);
      assert.equal(response.status, 500);
      assert.match(await response.text(), /the web view is not built \(index\.html missing in .*\): run npm run build/);
    } finally {
      await server.close();
    }
  });

  it('refuses web.mqtt_url that is not a WebSocket URL', () => {
    assert.throws(() => loadSettings({ args: ['--web-mqtt-url', 'mqtt://x:1883'], env: {} }), /web\.mqtt_url: got .*allowed: a ws:\/\/ or wss:\/\/ URL, or null/);
    assert.throws(() => loadSettings({ args: ['--web-port', '70000'], env: {} }), /web\.port: got 70000; allowed: an integer port 0\.\.65535/);
  });

  it('takes web.allowed_origins as a list of origins only', () => {
    const settings = loadSettings({ args: ['--web-allowed-origins', 'https://gpio.example.org, http://10.0.0.2:8080'], env: {} });
    assert.deepEqual(settings.web.allowedOrigins, ['https://gpio.example.org', 'http://10.0.0.2:8080']);
    assert.deepEqual(loadSettings({ env: {} }).web.allowedOrigins, []);
    for (const bad of ['https://gpio.example.org/', 'gpio.example.org', '*', 'null', 'ftp://x']) {
      assert.throws(() => loadSettings({ args: ['--web-allowed-origins', bad], env: {} }), /web\.allowed_origins: got .*; allowed: a list of origins such as https:\/\/gpio\.example\.org/, bad);
    }
  });

  it('answers to every name of a loopback or wildcard bind, and only its own name otherwise', () => {
    assert.deepEqual(listenerNames('127.0.0.1'), ['127.0.0.1', 'localhost', '[::1]']);
    assert.deepEqual(listenerNames('::1'), ['[::1]', '127.0.0.1', 'localhost']);
    assert.deepEqual(listenerNames('192.168.1.5'), ['192.168.1.5']);
    const wildcard = listenerNames('0.0.0.0');
    for (const name of ['127.0.0.1', 'localhost', '[::1]', hostname().toLowerCase()]) assert.ok(wildcard.includes(name), name);
  });

  it('starts no listener with web.enabled false, and bridge/info has "web": null', async () => {
    const config = join(dir, 'off.yaml');
    writeFileSync(config, `broker: { port: null }\nmetrics: { port: null }\nweb: { enabled: false }\nhomeassistant: { enabled: false }\nchips: [{ name: off, mode: plain, shm: ${dir}/off.shm, ngpio: 2 }]\n`);
    const logs: string[] = [];
    const controller = await Controller.start(loadSettings({ args: ['-c', config], env: {} }), { log: new Logger('info', 'bridge', (l) => logs.push(l)) });
    try {
      assert.equal(controller.webServer, undefined);
      assert.ok(!logs.some((l) => l.includes('web view')));
      const info = await new Promise<string>((resolve) => {
        controller.mqtt?.subscribe('vgpio2mqtt/bridge/info', (_topic, payload) => {
          resolve(payload.toString());
        });
      });
      assert.equal((JSON.parse(info) as { web: unknown }).web, null);
    } finally {
      await controller.stop();
    }
  });

  it('gives Home Assistant\'s devices the page as their configuration_url', async () => {
    const config = join(dir, 'on.yaml');
    const port = await freePort();
    writeFileSync(config, `broker: { port: ${port} }\nmetrics: { port: null }\nweb: { port: 0 }\nchips: [{ name: board, mode: plain, shm: ${dir}/board.shm, ngpio: 2, lines: [{ line: 0, name: button }] }]\n`);
    const controller = await Controller.start(loadSettings({ args: ['-c', config], env: {} }), { log: new Logger('error') });
    const probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, ['homeassistant/device/+/config']);
    try {
      const url = controller.webServer?.url;
      assert.match(url ?? '', /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const bridge = await probe.waitFor('homeassistant/device/vgpio2mqtt_vgpio2mqtt/config', () => true, 10_000);
      const board = await probe.waitFor('homeassistant/device/vgpio2mqtt_vgpio2mqtt_board/config', () => true, 10_000);
      for (const device of [bridge, board]) assert.equal((JSON.parse(device.payload) as { dev: { configuration_url?: string } }).dev.configuration_url, url);
    } finally {
      await probe.close();
      await controller.stop();
    }
  });
});
