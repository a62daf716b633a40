/**
 * The embedded broker writes what one network client is sent in one turn
 * of the event loop in one system call (broker/embedded.ts,
 * oneWritePerTurn): Aedes delivers each message in a setImmediate of its
 * own, which cost a write per message. Counted at the broker's side of a
 * real TCP connection; every message still arrives, in order, also when a
 * turn's writes pass the socket's high-water mark (back-pressure). A
 * client's CONNACK is not held for the next turn: the client waits for it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import type { Duplex } from 'node:stream';
import { EmbeddedBroker } from '../../broker/embedded.ts';

/** Counts the writes that reach the socket's system-call layer (_write and _writev). */
function countWrites(stream: Duplex): () => number {
  let writes = 0;
  const internals = stream as unknown as Record<'_write' | '_writev', ((...args: unknown[]) => void) | undefined>;
  for (const name of ['_write', '_writev'] as const) {
    const original = internals[name];
    if (original === undefined) continue;
    internals[name] = (...args: unknown[]): void => {
      writes += 1;
      original.apply(stream, args);
    };
  }
  return () => writes;
}

describe('embedded broker: one write per client per turn', () => {
  let broker: EmbeddedBroker;
  let subscriber: MqttClient;
  let writes: () => number;
  const received: string[] = [];

  before(async () => {
    broker = await EmbeddedBroker.start({ tcp: { host: '127.0.0.1', port: 0 }, ws: null, tls: null, users: [], persistenceDir: null });
    const connected = new Promise<Duplex>((resolve) => broker.aedes.once('client', (client: Client) => { resolve(client.conn); }));
    subscriber = await mqtt.connectAsync(`mqtt://127.0.0.1:${String(broker.addresses.tcp?.port)}`, { reconnectPeriod: 0, clientId: 'batched' });
    writes = countWrites(await connected);
    subscriber.on('message', (topic, payload) => received.push(`${topic} ${payload.length > 16 ? String(payload.length) : payload.toString()}`));
    await subscriber.subscribeAsync({ 'burst/#': { qos: 0 }, 'big/#': { qos: 1 } });
  });

  after(async () => {
    await subscriber.endAsync();
    await broker.close();
  });

  /** Publishes through Aedes' API, all in this turn; resolves when the subscriber has them all. */
  async function burst(count: number, topic: (i: number) => string, payload: (i: number) => string, qos: 0 | 1): Promise<string[]> {
    received.length = 0;
    for (let i = 0; i < count; i++) {
      broker.aedes.publish({ cmd: 'publish', topic: topic(i), payload: payload(i), qos, retain: false, dup: false }, () => undefined);
    }
    const deadline = Date.now() + 10_000;
    while (received.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    return [...received];
  }

  it('sends 50 messages published in one turn in one write, in order', async () => {
    const before = writes();
    const got = await burst(50, (i) => `burst/${String(i)}`, (i) => String(i), 0);
    assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => `burst/${String(i)} ${String(i)}`));
    const used = writes() - before;
    assert.ok(used <= 2, `${String(used)} writes for 50 messages`);
  });

  it('delivers a turn\'s writes past the high-water mark whole and in order (QoS 1, 64 x 4 KiB)', async () => {
    const payload = 'x'.repeat(4096);
    const got = await burst(64, (i) => `big/${String(i)}`, () => payload, 1);
    assert.deepEqual(got, Array.from({ length: 64 }, (_, i) => `big/${String(i)} 4096`));
  });

  it('hands a client its CONNACK in the turn that wrote it, not at the next one', async () => {
    // 'client' comes before Aedes writes the CONNACK in the same turn; an immediate queued here runs at the start of the next one.
    const unsent = new Promise<number>((resolve) => broker.aedes.once('client', (client: Client) => {
      const conn = client.conn as Duplex;
      setImmediate(() => { resolve(conn.writableLength); });
    }));
    const other = await mqtt.connectAsync(`mqtt://127.0.0.1:${String(broker.addresses.tcp?.port)}`, { reconnectPeriod: 0, clientId: 'connack' });
    try {
      assert.equal(await unsent, 0, 'CONNACK bytes still held by the socket at the next turn');
    } finally {
      await other.endAsync();
    }
  });
});
