/**
 * The bridge against a real Mosquitto (Debian's) as its external broker:
 * started unreachable (it keeps running and connects once the broker is
 * there), a persistent session that keeps a command published while the
 * bridge is disconnected, the offline state on shutdown, and a unix
 * socket connection.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { userInfo } from 'node:os';
import { SharedMemory } from '../../native/index.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
// Raw MQTT (MqttProbe), not the typed client: it checks the bridge's exact topics, payloads and retain flags on a foreign broker.
import { MqttProbe } from '../../testkit/mqtt-probe.ts';
import { freePort } from '../../testkit/ports.ts';

const B = 've';

class Mosquitto {
  #process: ChildProcess | undefined;
  readonly config: string;

  constructor(dir: string, port: number) {
    this.config = join(dir, 'mosquitto.conf');
    writeFileSync(
      this.config,
      [
        `listener ${port} 127.0.0.1`,
        `listener 0 ${join(dir, 'mqtt.sock')}`,
        'allow_anonymous true',
        // Started as root, mosquitto would switch to its own user, which may not write in the test's folder.
        `user ${userInfo().username}`,
        'persistence true',
        `persistence_location ${dir}/`,
        'log_dest none',
      ].join('\n') + '\n',
    );
  }

  async start(port: number): Promise<void> {
    const child = spawn('mosquitto', ['-c', this.config], { stdio: 'ignore' });
    this.#process = child;
    for (let i = 0; i < 100; i++) {
      const up = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, []).then(
        async (p) => {
          await p.close();
          return true;
        },
        () => false,
      );
      if (up) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('mosquitto did not start');
  }

  async stop(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (child?.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM'); // mosquitto saves its persistence file on SIGTERM
    await exited;
  }
}

describe('bridge with a real Mosquitto as external broker', () => {
  let dir: string;
  let port: number;
  let mosquitto: Mosquitto;
  let controller: Controller;
  let mem: SharedMemory;
  let guest: FakeGuest;
  const logs: string[] = [];

  before(async () => {
    dir = mkdtempSync('/dev/shm/vgpio-bridge-ext-');
    port = await freePort();
    mosquitto = new Mosquitto(dir, port);
  });

  after(async () => {
    await controller.stop();
    await mosquitto.stop();
    mem.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts while the broker is unreachable, says so once, and connects when it appears', async () => {
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `base_topic: ${B}
mqtt:
  server: mqtt://127.0.0.1:${port}
  client_id: vgpio2mqtt-ext-test
  reconnect_ms: 1500
homeassistant: { enabled: false }
metrics: { port: 0 }
web: { enabled: false }
chips:
  - { name: board, mode: plain, shm: ${dir}/board.shm, poll_ms: 5, lines: [{ line: 0, name: button }] }
`,
    );
    controller = await Controller.start(loadSettings({ args: ['-c', config], env: {} }), { log: new Logger('info', 'bridge', (l) => logs.push(l)) });
    mem = SharedMemory.open(join(dir, 'board.shm'));
    guest = new FakeGuest(mem);
    guest.bind();
    await new Promise((r) => setTimeout(r, 3500));
    const errors = logs.filter((l) => / error .*MQTT broker mqtt:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.*retrying every 1500 ms/.test(l));
    assert.equal(errors.length, 1, `one error line for the outage, not one per attempt:\n${logs.join('\n')}`);
    assert.equal(controller.mqtt?.connected, false);

    await mosquitto.start(port);
    const probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, [`${B}/#`]);
    await probe.waitFor(`${B}/bridge/state`, (p) => p.includes('online'), 5000);
    await probe.waitFor(`${B}/board/availability`, (p) => p === 'online', 5000);
    await probe.close();
  });

  it('keeps its session: a command published while the bridge is disconnected is applied when it is back', async () => {
    await mosquitto.stop();
    const mqtt = controller.mqtt ?? assert.fail('no MQTT connection');
    for (let i = 0; i < 100 && mqtt.connected; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(mqtt.connected, false);
    await mosquitto.start(port);
    const probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, [`${B}/board/button`]);
    assert.equal(mqtt.connected, false, 'the bridge has not reconnected yet');
    await probe.publish(`${B}/board/button/set`, 'ON');
    assert.equal(guest.input(0), 0);
    await probe.waitFor(`${B}/board/button`, (p) => p === 'ON', 8000);
    assert.equal(guest.input(0), 1, 'the queued command reached shared memory');
    await probe.close();
  });

  it('publishes its states with QoS 0 by default, so Mosquitto has no PUBACK to hold the next command behind', async () => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    const qos: number[] = [];
    client.on('message', (topic, _payload, packet) => {
      if (topic === `${B}/board/button` && !packet.retain) qos.push(packet.qos);
    });
    await client.subscribeAsync(`${B}/board/button`, { qos: 1 });
    await client.publishAsync(`${B}/board/button/set`, 'OFF', { qos: 1 });
    await client.publishAsync(`${B}/board/button/set`, 'ON', { qos: 1 });
    for (let i = 0; i < 250 && qos.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(qos, [0, 0], 'delivered with the QoS they were published with (a QoS 1 subscription keeps it)');
    await client.endAsync();
  });

  it('publishes bridge/state offline (retained) when it stops', async () => {
    await controller.stop();
    const probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, [`${B}/bridge/state`]);
    const state = await probe.waitFor(`${B}/bridge/state`);
    assert.equal(state.payload, '{"state":"offline"}');
    assert.equal(state.retain, true);
    await probe.close();
  });

  it('connects through a unix socket', async () => {
    const settings = loadSettings({
      args: ['--mqtt-server', `unix://${join(dir, 'mqtt.sock')}`, '--base-topic', B, '--homeassistant-enabled', 'false', '--mqtt-client-id', 'vgpio2mqtt-unix'],
      env: { VGPIO2MQTT_CONFIG: join(dir, 'config.yaml') },
    });
    assert.equal(settings.mqtt.server, `unix://${join(dir, 'mqtt.sock')}`, 'flags win over the file');
    const probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, [`${B}/board/button`]);
    controller = await Controller.start(settings, { log: new Logger('error') });
    await probe.waitFor(`${B}/board/button`, (p) => p === 'ON', 5000, probe.mark);
    await probe.close();
  });
});
