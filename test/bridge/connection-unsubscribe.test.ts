/**
 * MqttConnection.subscribe's undo against a real Mosquitto: the handler
 * hears nothing more, the broker subscription goes with a filter's last
 * handler (no message comes in for it), and once the bridge is stopping
 * the broker keeps it, so that a command published while the bridge is
 * away reaches the next run through the persistent session.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { Logger } from '../../bridge/log.ts';
import { MqttConnection } from '../../bridge/mqtt/connection.ts';
import { Mosquitto } from '../../testkit/mosquitto.ts';

describe('MqttConnection.subscribe undo', () => {
  let mosquitto: Mosquitto;
  let publisher: MqttClient;
  const log = new Logger('error', 'test', () => undefined);

  before(async () => {
    mosquitto = await Mosquitto.start();
    publisher = await mqtt.connectAsync(mosquitto.url, { reconnectPeriod: 0 });
  });

  after(async () => {
    await publisher.endAsync();
    await mosquitto.stop();
  });

  it('drops a handler, and the broker subscription with the filter\'s last handler', async () => {
    const connection = new MqttConnection({ server: mosquitto.url, clientId: 'undo-live', clean: true, reconnectMs: 100, log });
    try {
      await connection.waitConnected(10_000);
      let incoming = 0;
      connection.on('traffic', (direction) => {
        if (direction === 'in') incoming += 1;
      });
      const heard: string[] = [];
      const first = await connection.subscribeNow('u/#', (topic) => {
        heard.push(`first ${topic}`);
      });
      const second = await connection.subscribeNow('u/#', (topic) => {
        heard.push(`second ${topic}`);
      });
      assert.equal(connection.handlers, 2);
      await publisher.publishAsync('u/1', 'x', { qos: 1 });
      await sleep(200);
      first();
      await publisher.publishAsync('u/2', 'x', { qos: 1 });
      await sleep(200);
      second();
      assert.equal(connection.handlers, 0);
      await sleep(200);
      const before = incoming;
      await publisher.publishAsync('u/3', 'x', { qos: 1 });
      await sleep(300);
      assert.deepEqual(heard, ['first u/1', 'second u/1', 'second u/2']);
      assert.equal(incoming, before, 'the broker sends nothing more on u/#: it was unsubscribed');
    } finally {
      await connection.close();
    }
  });

  it('keeps the broker subscription once stopping: a command sent while the bridge is away reaches the next run', async () => {
    const options = { server: mosquitto.url, clientId: 'undo-stop', clean: false, reconnectMs: 100, log };
    const first = new MqttConnection(options);
    await first.waitConnected(10_000);
    const undo = await first.subscribeNow('s/#', () => undefined);
    await first.stopTaking();
    undo();
    await sleep(200);
    await first.close();
    await publisher.publishAsync('s/board/led/set', 'ON', { qos: 1 });
    const next = new MqttConnection(options);
    try {
      const heard = new Promise<string>((resolve) => {
        next.subscribe('s/#', (topic) => {
          resolve(topic);
        });
      });
      const timeout = sleep(5000).then(() => 'nothing within 5 s');
      assert.equal(await Promise.race([heard, timeout]), 's/board/led/set');
    } finally {
      await next.close();
    }
  });
});
