/**
 * The embedded Aedes broker with real clients: mqtt.js and Debian's
 * mosquitto_pub/mosquitto_sub over TCP, WebSocket and TLS; login and
 * per-user topic permissions; retained messages kept on disk across a
 * restart; the bridge's in-process connection.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer } from 'node:net';
import mqtt, { MqttClient, type IClientOptions } from 'mqtt';
import { EmbeddedBroker, type EmbeddedBrokerOptions } from '../../broker/embedded.ts';
import { scratchDir } from '../support/scratch-dir.ts';

const run = promisify(execFile);
const local = { host: '127.0.0.1', port: 0 };
const base: EmbeddedBrokerOptions = { tcp: local, ws: null, tls: null, users: [], persistenceDir: null };

async function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
}

/** Resolves with the next message on `topic` (subscribing first). */
async function nextMessage(client: MqttClient, topic: string, timeoutMs = 5000): Promise<string> {
  const received = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no message on ${topic} within ${timeoutMs} ms`));
    }, timeoutMs);
    client.on('message', (t, payload) => {
      if (t === topic) {
        clearTimeout(timer);
        resolve(payload.toString());
      }
    });
  });
  await client.subscribeAsync(topic, { qos: 1 });
  return received;
}

describe('embedded broker', () => {
  const dir = scratchDir('vgpio-broker-');

  it('carries messages between mosquitto clients over TCP, and retains them', async () => {
    const broker = await EmbeddedBroker.start(base);
    try {
      const port = String(broker.addresses.tcp?.port);
      await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-t', 'a/b', '-m', 'hello', '-r', '-q', '1']);
      const { stdout } = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-t', 'a/#', '-C', '1', '-W', '5', '-v']);
      assert.equal(stdout.trim(), 'a/b hello');
    } finally {
      await broker.close();
    }
  });

  it('requires a login when users are configured and enforces their topic filters', async () => {
    const broker = await EmbeddedBroker.start({
      ...base,
      users: [
        { username: 'ha', password: 's3cret', publish: ['vgpio2mqtt/+/+/set'], subscribe: ['vgpio2mqtt/#'] },
        { username: 'admin', password: 'root-pw' },
      ],
    });
    try {
      const url = `mqtt://127.0.0.1:${broker.addresses.tcp?.port ?? 0}`;
      await assert.rejects(connect(url), /Not authorized|Bad username/i);
      await assert.rejects(connect(url, { username: 'ha', password: 'wrong' }), /Bad username or password/i);
      const port = String(broker.addresses.tcp?.port);
      await assert.rejects(run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-u', 'ha', '-P', 'nope', '-t', 't', '-m', 'x']));

      const admin = await connect(url, { username: 'admin', password: 'root-pw' });
      const ha = await connect(url, { username: 'ha', password: 's3cret' });
      const seen: string[] = [];
      admin.on('message', (topic) => seen.push(topic));
      await admin.subscribeAsync('#', { qos: 1 });

      // Subscribing outside the user's filters is refused in the SUBACK.
      await assert.rejects(ha.subscribeAsync('other/#', { qos: 1 }), (error: Error & { packet?: { granted?: number[] } }) => {
        assert.deepEqual(error.packet?.granted, [128]);
        return true;
      });
      const allowed = await ha.subscribeAsync('vgpio2mqtt/chip/+', { qos: 1 });
      assert.equal(allowed[0]?.qos, 1);

      await ha.publishAsync('vgpio2mqtt/chip/led/set', 'ON', { qos: 1 });
      await ha.publishAsync('vgpio2mqtt/bridge/request/restart', '{}').catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(seen, ['vgpio2mqtt/chip/led/set']);
      await Promise.all([admin.endAsync(), ha.endAsync(true)]);
    } finally {
      await broker.close();
    }
  });

  it('listens for MQTT over WebSocket', async () => {
    const broker = await EmbeddedBroker.start({ ...base, ws: local });
    try {
      const ws = await connect(`ws://127.0.0.1:${broker.addresses.ws?.port ?? 0}/mqtt`);
      const tcp = await connect(`mqtt://127.0.0.1:${broker.addresses.tcp?.port ?? 0}`);
      const got = nextMessage(ws, 'w/s');
      await new Promise((resolve) => setTimeout(resolve, 50));
      await tcp.publishAsync('w/s', 'over-ws');
      assert.equal(await got, 'over-ws');
      await Promise.all([ws.endAsync(), tcp.endAsync()]);
    } finally {
      await broker.close();
    }
  });

  it('listens for MQTT over TLS', async () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1']);
    const broker = await EmbeddedBroker.start({ ...base, tls: { ...local, cert, key } });
    try {
      const port = String(broker.addresses.tls?.port);
      const sub = run('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '--cafile', cert, '-t', 't/l/s', '-C', '1', '-W', '5']);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '--cafile', cert, '-t', 't/l/s', '-m', 'secure', '-q', '1']);
      assert.equal((await sub).stdout.trim(), 'secure');
      await assert.rejects(EmbeddedBroker.start({ ...base, tcp: null, tls: { ...local, cert: join(dir, 'missing.pem'), key } }), /cannot read TLS certificate .*missing\.pem: ENOENT/);
    } finally {
      await broker.close();
    }
  });

  it('keeps retained messages on disk across a restart when persistence is on', async () => {
    const persistenceDir = join(dir, 'persist');
    const first = await EmbeddedBroker.start({ ...base, persistenceDir });
    const port = String(first.addresses.tcp?.port);
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-t', 'keep/me', '-m', 'still-here', '-r', '-q', '1']);
    await assert.rejects(EmbeddedBroker.start({ ...base, persistenceDir }), /another bridge is using it/);
    await first.close();

    const second = await EmbeddedBroker.start({ ...base, persistenceDir });
    try {
      const { stdout } = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(second.addresses.tcp?.port), '-t', 'keep/me', '-C', '1', '-W', '5']);
      assert.equal(stdout.trim(), 'still-here');
    } finally {
      await second.close();
    }
  });

  it('says which address is taken when a port is in use', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      await assert.rejects(EmbeddedBroker.start({ ...base, tcp: { host: '127.0.0.1', port } }), new RegExp(`cannot listen for MQTT on 127.0.0.1:${port}: EADDRINUSE`));
    } finally {
      blocker.close();
    }
  });

  it('publishes no $SYS message per client that connects, subscribes or leaves, and passes its other $SYS messages', async () => {
    const broker = await EmbeddedBroker.start(base);
    try {
      const url = `mqtt://127.0.0.1:${broker.addresses.tcp?.port ?? 0}`;
      const watcher = await connect(url);
      const seen: string[] = [];
      watcher.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
      await watcher.subscribeAsync('$SYS/#');
      // Published after Aedes' disconnect announcement would have been: messages arrive in order, so one before it would be seen first.
      const marker = `$SYS/${broker.aedes.id}/test/marker`;
      broker.aedes.once('clientDisconnect', () => setImmediate(() => {
        broker.aedes.publish({ cmd: 'publish', topic: marker, payload: Buffer.from('after'), qos: 0, retain: false, dup: false }, () => undefined);
      }));
      const markerSeen = new Promise<void>((resolve) => watcher.on('message', (topic) => { if (topic === marker) resolve(); }));
      const port = String(broker.addresses.tcp?.port);
      await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-i', 'one-shot', '-t', 'a/b', '-E']);
      await markerSeen;
      assert.deepEqual(seen, [`${marker} after`]);
      await watcher.endAsync();
    } finally {
      await broker.close();
    }
  });
});
