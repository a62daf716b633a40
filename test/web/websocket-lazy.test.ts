/**
 * The web view's MQTT over WebSocket loads ws at the first upgrade request,
 * so an idle bridge whose page nobody opens does not hold it: after start
 * ws is not loaded; the first upgrade on /mqtt is answered (101) and
 * carries MQTT; an upgrade on another path is refused (400), as before.
 * A file of its own: what is loaded belongs to the process.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import mqtt from 'mqtt';
import { EmbeddedBroker } from '../../broker/embedded.ts';
import { WebServer } from '../../bridge/web-server/server.ts';

const loaded = createRequire(import.meta.url).cache;
const wsLoaded = (): boolean => Object.keys(loaded).some((file) => file.includes('/node_modules/ws/'));

/** The status a WebSocket upgrade request on `path` is answered with. */
async function upgradeStatus(url: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-protocol': 'mqtt' },
    });
    req.once('upgrade', (response, socket) => {
      socket.destroy();
      resolve(response.statusCode ?? 0);
    });
    req.once('response', (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

it('loads ws at the first WebSocket client, and serves MQTT on /mqtt only', async () => {
  const broker = await EmbeddedBroker.start({ tcp: null, ws: null, tls: null, users: [], persistenceDir: null });
  const server = await WebServer.start({ host: '127.0.0.1', port: 0, broker, page: { base_topic: 'x', version: '1', mqtt: '/mqtt' } });
  try {
    assert.equal(wsLoaded(), false, 'ws is loaded before any WebSocket client came');
    assert.equal(await upgradeStatus(server.url, '/mqtt'), 101);
    assert.equal(wsLoaded(), true);
    assert.equal(await upgradeStatus(server.url, '/other'), 400);
    const client = await mqtt.connectAsync(new URL('/mqtt', server.url).href.replace(/^http/, 'ws'), { reconnectPeriod: 0, connectTimeout: 5000 });
    try {
      const received = new Promise<string>((resolve) => client.once('message', (topic, payload) => {
        resolve(`${topic} ${payload.toString()}`);
      }));
      await client.subscribeAsync('a/#', { qos: 1 });
      await client.publishAsync('a/b', 'over ws', { qos: 1 });
      assert.equal(await received, 'a/b over ws');
    } finally {
      await client.endAsync();
    }
  } finally {
    await server.close();
    await broker.close();
  }
});
