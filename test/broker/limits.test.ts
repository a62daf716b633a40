/**
 * The embedded broker's limits with real clients: a real 128 MiB PUBLISH
 * to a running bridge drops the client before the body is read and the
 * bridge's memory stays put; a packet under the limit passes; connections
 * over broker.max_connections are closed; a client publishing faster than
 * broker.max_publish_rate is slowed down (never past the bucket), loses
 * nothing, and another client is served meanwhile.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { DEFAULT_BROKER_LIMITS, EmbeddedBroker, type BrokerLimits } from '../../broker/embedded.ts';
import { freePort } from '../../testkit/ports.ts';
import { rssBytes } from '../../testkit/rss.ts';
import { until } from '../../testkit/vgpio-host.ts';
import { startBridgeProcess } from '../support/bridge-process.ts';
import { scratchDir } from '../support/scratch-dir.ts';

const run = promisify(execFile);
const MiB = 1 << 20;

/** MQTT's remaining-length varint. */
function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** A CONNECT packet, MQTT 3.1.1, clean session, client id `id`. */
function connectPacket(id: string): Buffer {
  const body = Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([4, 2, 0, 60, 0, id.length]), Buffer.from(id)]);
  return Buffer.concat([Buffer.from([0x10, ...varint(body.length)]), body]);
}


/**
 * Sends a PUBLISH announcing `size` payload bytes and streams the payload
 * (respecting back-pressure) until done or until the broker closes the
 * connection; resolves with the bytes it managed to write.
 */
async function oversizedPublish(port: number, size: number): Promise<{ written: number; closedEarly: boolean }> {
  const socket: Socket = connectTcp(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let closed = false;
  const gone = new Promise<void>((resolve) => socket.once('close', () => { closed = true; resolve(); }));
  socket.on('error', () => undefined);
  socket.write(connectPacket('big'));
  const topic = Buffer.from([0, 1, 0x74]);
  socket.write(Buffer.from([0x30, ...varint(topic.length + size)]));
  socket.write(topic);
  const chunk = Buffer.alloc(64 * 1024);
  let written = 0;
  const isClosed = (): boolean => closed;
  while (written < size && !isClosed()) {
    if (!socket.write(chunk)) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), gone]);
    written += chunk.length;
  }
  await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 5000))]);
  const closedEarly = closed;
  socket.destroy();
  return { written, closedEarly };
}

describe('embedded broker limits', { timeout: 180_000 }, () => {
  const dir = scratchDir('vgpio-limits-');

  it('drops a client announcing a 128 MiB PUBLISH before reading it; the bridge\'s memory stays bounded', async () => {
    const port = await freePort();
    const config = join(dir, 'bridge.yaml');
    writeFileSync(config, `broker: { port: ${port} }\nmetrics: { port: null }\nweb: { enabled: false }\nchips: [{ name: a, mode: plain, shm: ${dir}/a.shm }]\n`);
    const { child: bridge, log } = await startBridgeProcess(config);
    try {
      const pid = bridge.pid ?? assert.fail('no pid');
      const before = rssBytes(pid);
      const { written, closedEarly } = await oversizedPublish(port, 128 * MiB);
      const grew = rssBytes(pid) - before;
      assert.ok(closedEarly, 'the broker closed the connection');
      assert.ok(written < 32 * MiB, `the broker stopped reading early (the client wrote ${written} bytes)`);
      assert.ok(grew < 32 * MiB, `RSS grew by ${(grew / MiB).toFixed(1)} MiB`);
      // The bridge logs before it closes the socket, but this process may see the close before the bridge's stderr.
      const dropped = /warn +bridge: embedded MQTT broker: client dropped: packet of 134217736 bytes is larger than the limit of 1048576 \(broker\.max_packet_bytes\)/;
      await until('the drop in the bridge\'s log', () => dropped.test(log()), 10_000).catch(() => undefined);
      assert.match(log(), dropped);
      // Everyone else is still served.
      const { stdout } = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'vgpio2mqtt/bridge/state', '-C', '1', '-W', '10']);
      assert.equal(stdout.trim(), '{"state":"online"}');
    } finally {
      bridge.kill('SIGTERM');
    }
  });

  const start = (limits: Partial<BrokerLimits>, refused: string[] = []): Promise<EmbeddedBroker> =>
    EmbeddedBroker.start({ tcp: { host: '127.0.0.1', port: 0 }, ws: null, tls: null, users: [], persistenceDir: null, limits: { ...DEFAULT_BROKER_LIMITS, ...limits }, refused: (r) => refused.push(r) });
  const url = (broker: EmbeddedBroker): string => `mqtt://127.0.0.1:${broker.addresses.tcp?.port ?? 0}`;
  const client = (broker: EmbeddedBroker, id: string): Promise<MqttClient> => mqtt.connectAsync(url(broker), { clientId: id, reconnectPeriod: 0, connectTimeout: 5000 });

  it('passes a packet under the limit', async () => {
    const broker = await start({ maxPacketBytes: MiB, maxConnections: 10, publishRate: null });
    try {
      const payload = join(dir, 'half.bin');
      writeFileSync(payload, Buffer.alloc(MiB / 2, 0x61));
      const port = String(broker.addresses.tcp?.port);
      const sub = run('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-t', 'big', '-C', '1', '-W', '20']);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-t', 'big', '-f', payload]);
      assert.equal((await sub).stdout.trim().length, MiB / 2);
    } finally {
      await broker.close();
    }
  });

  it('closes connections over broker.max_connections', async () => {
    const refused: string[] = [];
    const broker = await start({ maxPacketBytes: MiB, maxConnections: 3, publishRate: null }, refused);
    const clients: MqttClient[] = [];
    try {
      for (const id of ['c1', 'c2', 'c3']) clients.push(await client(broker, id));
      // The fourth connection is closed as it arrives, before any MQTT is read.
      const fourth = connectTcp(broker.addresses.tcp?.port ?? 0, '127.0.0.1');
      fourth.on('error', () => undefined);
      await new Promise((resolve) => fourth.once('close', resolve));
      assert.deepEqual(refused, ['connection from 127.0.0.1 refused: 3 network clients already connected (broker.max_connections)']);
      await clients.pop()?.endAsync();
      await until('the broker to count the closed connection', () => broker.networkConnections === 2);
      clients.push(await client(broker, 'c5'));
    } finally {
      for (const c of clients) await c.endAsync(true);
      await broker.close();
    }
  });

  it('slows a client over broker.max_publish_rate down, loses none of its messages, and serves another meanwhile', async () => {
    const RATE = 100;
    const FLOOD = 600;
    const broker = await start({ maxPacketBytes: MiB, maxConnections: 10, publishRate: RATE });
    const sub = await client(broker, 'sub');
    const flooder = await client(broker, 'flooder');
    const other = await client(broker, 'other');
    try {
      let flood = 0;
      let floodWhenOther: number | undefined;
      sub.on('message', (topic) => {
        if (topic === 'flood') flood += 1;
        else floodWhenOther ??= flood;
      });
      await sub.subscribeAsync(['flood', 'other'], { qos: 0 });
      // 1 KiB payloads: a 64 KiB read holds at most 64 publishes, so the bucket's debt stays small.
      const payload = Buffer.alloc(1024, 0x66);
      const started = performance.now();
      for (let i = 0; i < FLOOD; i++) flooder.publish('flood', payload, { qos: 0 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await other.publishAsync('other', 'hello', { qos: 0 });
      const bound = (): number => 2 * RATE + (RATE * (performance.now() - started)) / 1000;
      await until('the other client\'s message', () => floodWhenOther !== undefined, 30_000);
      assert.ok(flood <= bound(), `${flood} flood messages forwarded; the bucket allows at most ${bound().toFixed(0)}`);
      assert.ok(floodWhenOther !== undefined && floodWhenOther < FLOOD, 'the other client was served while the flood was held back');
      await until('every flood message', () => flood === FLOOD || false, 60_000);
      assert.ok(flood <= bound());
    } finally {
      for (const c of [sub, flooder, other]) await c.endAsync(true);
      await broker.close();
    }
  });
});
