/**
 * What the embedded broker refuses at the protocol level, with raw
 * clients: a PUBLISH whose topic holds U+0000 closes the connection (MQTT
 * 3.1.1 §1.5.3, §4.8) and reaches no subscriber, as does one to a `$SYS/`
 * topic (Aedes acts on some: it disconnected the client named in a
 * `$SYS/<id>/new/clients`); an MQTT 5 CONNECT is
 * answered CONNACK 1 (unacceptable protocol version) and the refusal says
 * that MQTT 5 is not supported and which version to use.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type MqttClient } from 'mqtt';
import { EmbeddedBroker, type RefusalKind } from '../../broker/embedded.ts';
import { packets, RawClient } from '../support/raw-mqtt.ts';

describe('the embedded broker\'s protocol refusals', () => {
  let broker: EmbeddedBroker;
  let port: number;
  const refused: { reason: string; kind: RefusalKind }[] = [];

  before(async () => {
    broker = await EmbeddedBroker.start({
      tcp: { host: '127.0.0.1', port: 0 },
      ws: null,
      tls: null,
      users: [],
      persistenceDir: null,
      refused: (reason, kind) => refused.push({ reason, kind }),
    });
    port = broker.addresses.tcp?.port ?? 0;
  });

  after(async () => {
    await broker.close();
  });

  /** A raw client `id` that connects and publishes to `topic`; resolves once the broker has closed its connection. */
  async function publishRefused(id: string, topic: string, payload: string): Promise<void> {
    const client = await RawClient.connect(port);
    try {
      client.socket.write(packets.connect(id));
      await client.receive(4);
      client.socket.write(packets.publish(topic, payload));
      assert.ok(await client.closedWithin(5000), 'the broker closed the connection');
    } finally {
      client.socket.destroy();
    }
  }

  it('closes a connection that publishes to a topic holding U+0000, and delivers nothing', async () => {
    refused.length = 0;
    const watcher: MqttClient = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    const seen: string[] = [];
    watcher.on('message', (topic) => seen.push(topic));
    await watcher.subscribeAsync('#');
    try {
      await publishRefused('nul', 'a\0b', 'ON');
      // A valid publication after it is delivered: nothing of the bad one came before it.
      await watcher.publishAsync('after', 'x');
      while (!seen.includes('after')) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.deepEqual(seen, ['after']);
      assert.deepEqual(refused, [{ reason: 'client nul from 127.0.0.1 dropped: PUBLISH topic holds U+0000, which MQTT forbids', kind: 'topic' }]);
    } finally {
      await watcher.endAsync(true);
    }
  });

  it('closes a connection that publishes to a $SYS/ topic, which disconnects no one', async () => {
    refused.length = 0;
    const victim: MqttClient = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, clientId: 'victim' });
    let victimClosed = false;
    victim.on('close', () => (victimClosed = true));
    try {
      await publishRefused('sys', '$SYS/another-broker/new/clients', 'victim');
      // A round trip of the victim's own after it: had the broker closed it, it would not come back.
      await victim.subscribeAsync('after');
      const back = new Promise<void>((resolve) => victim.on('message', () => { resolve(); }));
      await victim.publishAsync('after', 'x');
      await back;
      assert.equal(victimClosed, false, 'the client named in the $SYS publication was disconnected');
      assert.deepEqual(refused, [{ reason: 'client sys from 127.0.0.1 dropped: PUBLISH to $SYS/another-broker/new/clients; $SYS/ topics are the broker\'s own', kind: 'topic' }]);
    } finally {
      await victim.endAsync(true);
    }
  });

  it('answers an MQTT 5 CONNECT with CONNACK 1 and says that MQTT 5 is not supported', async () => {
    refused.length = 0;
    const client = await RawClient.connect(port);
    try {
      client.socket.write(packets.connect('five', 5));
      const connack = await client.receive(4);
      assert.deepEqual([...connack.subarray(0, 4)], [0x20, 2, 0, 1], 'CONNACK, return code 1: unacceptable protocol version');
      assert.ok(await client.closedWithin(5000), 'the broker closed the connection');
      assert.deepEqual(refused, [
        { reason: 'client five from 127.0.0.1 refused: MQTT 5 is not supported by the embedded broker; use protocol version 4 (MQTT 3.1.1)', kind: 'protocol' },
      ]);
    } finally {
      client.socket.destroy();
    }
  });
});
