/**
 * The bridge's link to its embedded broker (Aedes' API, in-process): its
 * publications reach a network subscriber all and in order, however they
 * mix QoS 0 edges with retained QoS 1 states, and an edge does not hold the
 * state published after it back for a turn of the event loop.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import mqtt, { type MqttClient } from 'mqtt';
import { EmbeddedBroker } from '../../broker/embedded.ts';
import { BrokerLink } from '../../bridge/mqtt/broker-link.ts';
import { Logger } from '../../bridge/log.ts';

describe('BrokerLink', () => {
  let broker: EmbeddedBroker;
  let link: BrokerLink;
  let subscriber: MqttClient;
  /** Topics handed to aedes.publish, in order. */
  const handed: string[] = [];

  before(async () => {
    broker = await EmbeddedBroker.start({ tcp: { host: '127.0.0.1', port: 0 }, ws: null, tls: null, users: [], persistenceDir: null });
    const publish = broker.aedes.publish.bind(broker.aedes);
    broker.aedes.publish = ((packet: { topic: string }, done: () => void) => {
      handed.push(packet.topic);
      publish(packet as never, done);
    });
    link = new BrokerLink(broker, new Logger('error'));
    await once(link, 'connect');
    subscriber = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.addresses.tcp?.port ?? 0}`, { reconnectPeriod: 0 });
    await subscriber.subscribeAsync('t/#', { qos: 1 });
  });

  after(async () => {
    await subscriber.endAsync();
    await link.close();
    await broker.close();
  });

  it('hands a state to the broker right behind the QoS 0 edge before it, and a message after a retained state only once that is through', async () => {
    handed.length = 0;
    const published = [link.publish('t/a/edge', 'e1'), link.publish('t/a', 'ON', { retain: true }), link.publish('t/a/edge', 'e2')];
    assert.deepEqual(handed, ['t/a/edge', 't/a'], 'synchronously: the edge, then the state without waiting; the next edge waits for the state');
    await Promise.all(published);
    assert.deepEqual(handed, ['t/a/edge', 't/a', 't/a/edge']);
  });

  it('delivers a burst of mixed edges and retained states to a subscriber, every one, in the order published', async () => {
    const got: string[] = [];
    const all = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${got.length} of 600 messages arrived; the broker dropped the others as duplicates or lost them`)); }, 10_000);
      subscriber.on('message', (topic, payload) => {
        if (!topic.startsWith('t/burst/')) return;
        got.push(payload.toString());
        if (got.length < 600) return;
        clearTimeout(timer);
        resolve();
      });
    });
    for (let i = 0; i < 600; i++) {
      // Every third message a retained QoS 1 state on one of five lines, the others QoS 0 edges.
      if (i % 3 === 0) void link.publish(`t/burst/${i % 5}`, String(i), { retain: true });
      else void link.publish(`t/burst/${i % 5}/edge`, String(i));
    }
    await all;
    assert.deepEqual(got, Array.from({ length: 600 }, (_, i) => String(i)));
  });
});
