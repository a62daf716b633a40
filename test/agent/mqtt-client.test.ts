/**
 * The agent's own MQTT 3.1.1 client (agent/src/mqtt_client.c, driven by
 * agent/build/mqtt-send) against two real brokers, the embedded Aedes and
 * Debian's Mosquitto: connect, QoS 0 and QoS 1 publishes (acknowledged),
 * the will on a killed client and none on a clean exit, messages queued
 * while the broker is down delivered after it restarts, an unreachable
 * broker retried until it appears; and Aedes through a unix socket handed
 * to EmbeddedBroker.handle(), as the bridge does for virtio-serial.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { EmbeddedBroker } from '../../broker/embedded.ts';
import { buildAgent, MqttSend } from '../../testkit/agent.ts';
import { Mosquitto } from '../../testkit/mosquitto.ts';

/** A broker the test can stop and start again on the same address. */
interface TestBroker {
  /** The address mqtt-send is given. */
  address: string;
  url: string;
  stop(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

async function aedes(): Promise<TestBroker> {
  let broker = await EmbeddedBroker.start({ tcp: { host: '127.0.0.1', port: 0 }, ws: null, tls: null, users: [], persistenceDir: null });
  const port = broker.addresses.tcp?.port ?? 0;
  let running = true;
  return {
    address: `127.0.0.1:${port}`,
    url: `mqtt://127.0.0.1:${port}`,
    stop: async () => {
      running = false;
      await broker.close();
    },
    resume: async () => {
      broker = await EmbeddedBroker.start({ tcp: { host: '127.0.0.1', port }, ws: null, tls: null, users: [], persistenceDir: null });
      running = true;
    },
    close: async () => {
      if (running) await broker.close();
    },
  };
}

async function mosquitto(): Promise<TestBroker> {
  const broker = await Mosquitto.start();
  return {
    address: `tcp://127.0.0.1:${broker.port}`,
    url: broker.url,
    stop: () => broker.stop(),
    resume: () => broker.resume(),
    close: () => broker.close(),
  };
}

/** Subscribes to `topic` and resolves with the first message's payload. */
async function firstMessage(url: string, topic: string, timeoutMs = 10_000): Promise<{ payload: string; retain: boolean }> {
  const client: MqttClient = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  try {
    const got = new Promise<{ payload: string; retain: boolean }>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no message on ${topic} within ${timeoutMs} ms`));
      }, timeoutMs);
      client.on('message', (_t, payload, packet) => {
        clearTimeout(timer);
        resolve({ payload: payload.toString(), retain: packet.retain });
      });
    });
    await client.subscribeAsync(topic, { qos: 1 });
    return await got;
  } finally {
    await client.endAsync(true);
  }
}

const { mqttSend } = buildAgent();

for (const [name, startBroker] of [['Aedes', aedes], ['Mosquitto', mosquitto]] as const) {
  describe(`agent MQTT client against ${name}`, () => {
    let broker: TestBroker;
    let clients: MqttSend[] = [];
    const sender = (...args: string[]): MqttSend => {
      const s = new MqttSend(mqttSend, ['--broker', broker.address, ...args]);
      clients.push(s);
      return s;
    };

    before(async () => {
      broker = await startBroker();
    });
    after(async () => {
      await Promise.all(clients.filter((c) => c.running).map((c) => c.kill()));
      clients = [];
      await broker.close();
    });

    it('connects, publishes QoS 0 and QoS 1, and gets the QoS 1 message acknowledged', async () => {
      const sub: MqttClient = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
      const received: string[] = [];
      sub.on('message', (topic, payload, packet) => {
        received.push(`${topic} q${packet.qos} ${payload.toString()}`);
      });
      await sub.subscribeAsync('t/basic/#', { qos: 1 });
      const s = sender('--client-id', `basic-${name}`);
      await s.output.waitFor(/^connected 1$/m, 10_000);
      await s.publish('t/basic/a', 'zero', 0);
      const tag = await s.publish('t/basic/b', '{"edge":"rising","seq":1}', 1);
      await s.output.waitFor(new RegExp(`^acked ${tag}$`, 'm'), 10_000);
      assert.equal(await s.end(), 0);
      const deadline = Date.now() + 5000;
      while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await sub.endAsync();
      assert.deepEqual(received, ['t/basic/a q0 zero', 't/basic/b q1 {"edge":"rising","seq":1}']);
    });

    it('has its will published when killed, and not when it disconnects cleanly', async () => {
      const killed = sender('--client-id', `will-${name}`, '--will-topic', 't/will/killed', '--will-payload', 'offline');
      await killed.output.waitFor(/^connected 1$/m, 10_000);
      await killed.kill();
      const will = await firstMessage(broker.url, 't/will/killed');
      assert.deepEqual(will, { payload: 'offline', retain: true });

      const clean = sender('--client-id', `clean-${name}`, '--will-topic', 't/will/clean', '--will-payload', 'offline');
      await clean.output.waitFor(/^connected 1$/m, 10_000);
      const tag = await clean.publish('t/will/clean', 'online', 1, true);
      await clean.output.waitFor(new RegExp(`^acked ${tag}$`, 'm'), 10_000);
      assert.equal(await clean.end(), 0);
      // The retained message is still the last one published, not the will.
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(await firstMessage(broker.url, 't/will/clean'), { payload: 'online', retain: true });
    });

    it('queues while the broker is down and delivers after it restarts', async () => {
      const s = sender('--client-id', `restart-${name}`);
      await s.output.waitFor(/^connected 1$/m, 10_000);
      await broker.stop();
      await s.output.waitFor(/warning: broker .*: (connection closed|.*reset.*); retrying in/, 10_000);
      const tag = await s.publish('t/restart/kept', 'queued while down', 1, true);
      await broker.resume();
      await s.output.waitFor(/^connected 2$/m, 15_000);
      await s.output.waitFor(new RegExp(`^acked ${tag}$`, 'm'), 10_000);
      assert.ok(s.running, 'the client exited because the broker went away');
      assert.deepEqual(await firstMessage(broker.url, 't/restart/kept'), { payload: 'queued while down', retain: true });
      assert.equal(await s.end(), 0);
    });

    it('keeps retrying an unreachable broker with a clear message, then connects', async () => {
      await broker.stop();
      const s = sender('--client-id', `unreachable-${name}`);
      await s.output.waitFor(/warning: broker .*: cannot connect: Connection refused; retrying in \d+\.\d s/, 10_000);
      const tag = await s.publish('t/unreachable/x', 'late', 1, true);
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(s.running);
      await broker.resume();
      await s.output.waitFor(/^connected 1$/m, 15_000);
      await s.output.waitFor(new RegExp(`^acked ${tag}$`, 'm'), 10_000);
      assert.equal(await s.end(), 0);
    });
  });
}

describe('agent MQTT client through a unix socket handed to the embedded broker', () => {
  let broker: EmbeddedBroker;
  let server: Server;
  let dir: string;
  let socketPath: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-agent-unix-'));
    socketPath = join(dir, 'agent.sock');
    broker = await EmbeddedBroker.start({ tcp: { host: '127.0.0.1', port: 0 }, ws: null, tls: null, users: [], persistenceDir: null });
    server = createServer((socket) => {
      broker.handle(socket);
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const form of ['unix:', '']) {
    it(`publishes through ${form === '' ? 'a socket path' : 'unix:PATH'}`, async () => {
      const url = `mqtt://127.0.0.1:${broker.addresses.tcp?.port ?? 0}`;
      const s = new MqttSend(mqttSend, ['--broker', `${form}${socketPath}`, '--client-id', `unix${form}`]);
      try {
        await s.output.waitFor(/^connected 1$/m, 10_000);
        const tag = await s.publish(`t/unix/${form === '' ? 'path' : 'scheme'}`, 'via unix socket', 1, true);
        await s.output.waitFor(new RegExp(`^acked ${tag}$`, 'm'), 10_000);
        assert.equal(await s.end(), 0);
        assert.deepEqual(await firstMessage(url, `t/unix/${form === '' ? 'path' : 'scheme'}`), { payload: 'via unix socket', retain: true });
      } finally {
        if (s.running) await s.kill();
      }
    });
  }
});
