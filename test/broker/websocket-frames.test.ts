/**
 * MQTT over WebSocket sends a packet as one frame, not as the pieces Aedes
 * writes it in (ws makes a frame of every write): a browser pays per frame,
 * and one frame per piece capped the web view near 2,000 packets/s.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { EmbeddedBroker } from '../../broker/embedded.ts';

/** MQTT 3.1.1 CONNECT (client id "x", keep-alive 60 s) and SUBSCRIBE to `t/#` at QoS 0, as raw bytes. */
const CONNECT = Buffer.from([0x10, 0x0d, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 1, 0x78]);
const SUBSCRIBE = Buffer.from([0x82, 8, 0, 1, 0, 3, 0x74, 0x2f, 0x23, 0]);
const PUBLISHES = 200;

describe('the embedded broker over WebSocket', () => {
  let broker: EmbeddedBroker;

  before(async () => {
    broker = await EmbeddedBroker.start({ tcp: null, ws: { host: '127.0.0.1', port: 0 }, tls: null, users: [], persistenceDir: null });
  });

  after(async () => {
    await broker.close();
  });

  it('sends each packet in one frame', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${broker.addresses.ws?.port ?? 0}/mqtt`, ['mqtt']);
    const frames: Buffer[] = [];
    ws.on('message', (data: Buffer) => frames.push(data));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(CONNECT);
    ws.send(SUBSCRIBE);
    // CONNACK and SUBACK.
    while (frames.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    for (let i = 0; i < PUBLISHES; i += 1) {
      broker.aedes.publish({ cmd: 'publish', topic: `t/${i}`, payload: Buffer.from(`{"n":${i}}`), qos: 0, retain: false, dup: false }, () => undefined);
      // One publication per turn of the event loop, as the bridge's edges come.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const bytes = (): number => frames.slice(2).reduce((n, f) => n + f.length, 0);
    const expected = Array.from({ length: PUBLISHES }, (_, i) => 2 + 2 + `t/${i}`.length + `{"n":${i}}`.length).reduce((a, b) => a + b, 0);
    while (bytes() < expected) await new Promise((resolve) => setTimeout(resolve, 10));
    ws.close();
    assert.equal(bytes(), expected, 'every PUBLISH arrived whole');
    assert.ok(frames.length - 2 <= PUBLISHES, `${frames.length - 2} frames for ${PUBLISHES} packets`);
  });
});
