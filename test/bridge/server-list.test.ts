/**
 * `mqtt.server` as a list of brokers: the configuration reads a YAML list
 * and comma-separated flags and names a bad entry; the bridge's client goes
 * round the list on every reconnect (failover to the next broker) and logs
 * one clear line naming the brokers when none answers; the CLI reaches the
 * first that answers. Real Mosquitto brokers and real mqtt.js.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadSettings } from '../../bridge/settings/load.ts';
import { Logger } from '../../bridge/log.ts';
import { MqttConnection } from '../../bridge/mqtt/connection.ts';
import { connect, connected } from '../../bridge/cli/remote.ts';
import { Mosquitto } from '../../testkit/mosquitto.ts';
import { freePort } from '../../testkit/ports.ts';
import { until } from '../../testkit/until.ts';

describe('mqtt.server as a list of brokers', () => {
  let dir: string;
  let first: Mosquitto;
  let second: Mosquitto;
  /** A port nothing listens on: a broker that is down. */
  let dead: number;

  const settings = (yaml: string, args: string[] = []): ReturnType<typeof loadSettings> => {
    const path = join(dir, 'c.yaml');
    writeFileSync(path, yaml);
    return loadSettings({ args: ['-c', path, ...args], env: {} });
  };
  const problems = (yaml: string, args: string[] = []): string[] => {
    try {
      settings(yaml, args);
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error.problems;
    }
    return assert.fail('the configuration was accepted');
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-server-list-'));
    first = await Mosquitto.start();
    second = await Mosquitto.start();
    dead = await freePort();
  });
  after(async () => {
    await first.stop();
    await second.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a YAML list, a comma-separated flag and server_order', () => {
    const yaml = settings('mqtt: { server: [mqtt://127.0.0.1:1, "mqtts://b.lan:8883"], server_order: random }\n').mqtt;
    assert.deepEqual([yaml.server, yaml.serverOrder], [['mqtt://127.0.0.1:1', 'mqtts://b.lan:8883'], 'random']);
    assert.equal(settings('', ['--mqtt-server', 'mqtt://a:1,mqtt://b:2']).mqtt.server, 'mqtt://a:1,mqtt://b:2');
    assert.equal(settings('').mqtt.serverOrder, 'ordered');
  });

  it('names the bad entry of a list, without its password', () => {
    const [problem, ...rest] = problems('mqtt: { server: [mqtt://a:1, "http://user:secret@b:2"] }\n');
    assert.deepEqual(rest, []);
    assert.doesNotMatch(problem ?? '', /secret/, 'no password in the message');
    assert.doesNotMatch(problems('', ['--mqtt-server', 'mqtt://u:secret2@a:1,ws://b:2/x'])[0] ?? '', /secret2/);
    assert.match(problem ?? '', /^mqtt\.server: .*entry 2 "http:\/\/b:2" is not one: each is mqtt:\/\/host\[:port\] or mqtts:\/\/host\[:port\]/);
    assert.match(problems('', ['--mqtt-server', 'mqtt://a:1,ws://b:2/mqtt'])[0] ?? '', /entry 2 "ws:\/\/b:2\/mqtt" is not one/);
    assert.match(problems('mqtt: { server: [] }\n')[0] ?? '', /^mqtt\.server: got .*; allowed: "embedded", mqtt:\/\/host/);
    assert.match(problems('mqtt: { server_order: shuffled }\n')[0] ?? '', /^mqtt\.server_order: got "shuffled"; allowed: ordered, random/);
  });

  it('fails over to the next broker of the list when its broker goes away, and back round', async () => {
    const lines: string[] = [];
    const connection = new MqttConnection({ server: [first.url, second.url], clientId: 'ring', clean: true, reconnectMs: 100, log: new Logger('info', 'test', (l) => lines.push(l)) });
    let connects = 0;
    connection.on('connect', () => (connects += 1));
    try {
      await connection.waitConnected(10_000);
      assert.ok(lines.some((l) => l.includes(`connected to MQTT broker ${first.url}`)), lines.join('\n'));
      await first.stop();
      await until('connected to the second broker', () => lines.some((l) => l.includes(`connected to MQTT broker ${second.url}`)), 10_000);
      assert.ok(lines.some((l) => l.includes(`lost MQTT broker ${first.url}; trying the next of ${first.url}, ${second.url}`)), lines.join('\n'));
      await first.resume();
      await second.stop();
      await until('connected to the first broker again', () => connects === 3, 10_000);
      assert.match(lines.filter((l) => l.includes('connected to MQTT broker')).at(-1) ?? '', new RegExp(`connected to MQTT broker ${first.url}$`));
    } finally {
      await connection.close();
      await second.resume();
    }
  });

  it('logs one clear line naming the brokers when none answers, and keeps trying', async () => {
    const lines: string[] = [];
    const down = [`mqtt://127.0.0.1:${dead}`, `mqtt://user:secret@127.0.0.1:${dead}`];
    const connection = new MqttConnection({ server: down, clientId: 'down', clean: true, reconnectMs: 50, log: new Logger('info', 'test', (l) => lines.push(l)) });
    try {
      await until('a few attempts', () => (connection.client as unknown as { _reconnectCount: number })._reconnectCount >= 2 && lines.length > 0, 5000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const errors = lines.filter((l) => l.includes(' error '));
      assert.equal(errors.length, 1, lines.join('\n'));
      assert.match(errors[0] ?? '', new RegExp(`MQTT broker mqtt://127\\.0\\.0\\.1:${dead}: .*ECONNREFUSED.*; trying the next of mqtt://127\\.0\\.0\\.1:${dead}, mqtt://127\\.0\\.0\\.1:${dead} every 50 ms`));
      assert.ok(!lines.join('\n').includes('secret'));
    } finally {
      await connection.close();
    }
  });

  it('lets get/set/watch reach the first broker of the list that answers', async () => {
    const s = settings('', ['--mqtt-server', `mqtt://127.0.0.1:${dead},${second.url}`]);
    const client = connect(s, new Logger('error'));
    try {
      await connected(client, s);
      assert.ok(client.connected);
    } finally {
      await client.close();
    }
  });
});
