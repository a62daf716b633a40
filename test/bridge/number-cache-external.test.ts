/**
 * With an external broker the bridge's mqtt.js connection writes packets
 * without mqtt-packet's cache of 65,536 pre-built number Buffers (about
 * 11 MiB of an idle bridge's resident memory): QoS 1 publishes to a real
 * Mosquitto leave the cache empty. A file of its own: the cache belongs to
 * the process, and the embedded broker (test/broker/number-cache.test.ts)
 * must not be what turned it off here.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Logger } from '../../bridge/log.ts';
import { MqttConnection } from '../../bridge/mqtt/connection.ts';
import { Mosquitto } from '../../testkit/mosquitto.ts';

const numberCache = createRequire(import.meta.url)('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> };

it('publishes at QoS 1 through mqtt.js without building the number cache', async () => {
  const mosquitto = await Mosquitto.start();
  const connection = new MqttConnection({ server: mosquitto.url, clientId: 'number-cache', clean: true, reconnectMs: 100, log: new Logger('error') });
  try {
    await connection.waitConnected(10_000);
    const received = new Promise<string>((resolve) => {
      connection.subscribe('a/#', (topic, payload) => {
        resolve(`${topic} ${payload.toString()}`);
      });
    });
    await connection.publish('a/b', 'sent', { qos: 1 });
    assert.equal(await received, 'a/b sent');
    assert.equal(Object.keys(numberCache.cache).length, 0);
  } finally {
    await connection.close();
    await mosquitto.stop();
  }
});
