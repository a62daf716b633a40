/**
 * The bridge's MQTT client under a burst of publications in one turn of
 * the event loop (as when one socket read holds hundreds of commands, each
 * answered by an edge and a state): its writes are held until the end of
 * the turn, so the socket is past its high-water mark, and a QoS 0
 * publication must not leave a 'drain' listener behind for each packet
 * (mqtt.js adds one per packet written with a callback then; removing
 * thousands one by one was half of the bridge's time in a command flood
 * through Mosquitto).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { Logger } from '../../bridge/log.ts';
import { MqttConnection } from '../../bridge/mqtt/connection.ts';
import { Mosquitto } from '../../testkit/mosquitto.ts';

it('publishes a burst of 2,000 QoS 0 messages in one turn without a drain listener per packet, and delivers them all', async () => {
  const mosquitto = await Mosquitto.start();
  const connection = new MqttConnection({ server: mosquitto.url, clientId: 'burst', clean: true, reconnectMs: 100, log: new Logger('error') });
  try {
    await connection.waitConnected(10_000);
    let received = 0;
    await connection.subscribeNow('burst/out', () => {
      received += 1;
    });
    const drainListeners = new Promise<{ listeners: number; pastHighWaterMark: boolean }>((resolve) => {
      void connection.subscribeNow('burst/go', () => {
        // An incoming message starts a turn of held writes, as a command does.
        for (let i = 0; i < 2000; i++) void connection.publish('burst/out', `message ${i} `.padEnd(64, '.'), { qos: 0 });
        const stream = connection.client.stream;
        resolve({ listeners: stream.listenerCount('drain'), pastHighWaterMark: stream.writableLength >= stream.writableHighWaterMark });
      });
    });
    await connection.publish('burst/go', 'go', { qos: 1 });
    const { listeners, pastHighWaterMark } = await drainListeners;
    assert.ok(pastHighWaterMark, 'the burst was held past the socket\'s high-water mark (else this test proves nothing)');
    assert.ok(listeners <= 2, `${listeners} drain listeners after the burst`);
    const deadline = Date.now() + 10_000;
    while (received < 2000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(received, 2000);
  } finally {
    await connection.close();
    await mosquitto.stop();
  }
});
