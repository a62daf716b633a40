/**
 * Agent connections relayed to an external broker: the bridge runs against
 * a real Mosquitto (over mqtt:// and over unix://) with a plain-mode chip
 * that has an agent socket; the agent's own MQTT client (agent/build/
 * mqtt-send, the code vgpio-agent runs) connects through that socket and
 * is a client of Mosquitto in its own right: its publishes arrive, its will
 * (under the chip's label, where the agent publishes) is published once
 * when it dies, by Mosquitto alone (the bridge never publishes the agent's
 * topic), a clean exit leaves nothing behind, and
 * while Mosquitto is down the bridge drops agent connections (the agent
 * retries) without going down itself; over mqtts:// to Aedes' TLS
 * listener, verified with mqtt.ca, and refused when it does not verify. Also the start-up errors: a missing
 * socket folder, unreadable TLS files for an mqtts:// relay.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { EmbeddedBroker } from '../../broker/embedded.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { buildAgent, MqttSend } from '../../testkit/agent.ts';
import { Mosquitto } from '../../testkit/mosquitto.ts';
// Raw MQTT (MqttProbe), not the typed client: the agent's topics, which the typed client does not speak.
import { MqttProbe } from '../../testkit/mqtt-probe.ts';
import { scratchDir } from '../support/scratch-dir.ts';

const run = promisify(execFile);
const B = 'relay';
const CHIP = 'board';
/** The agent names chips by the gpiochip label the guest sees. */
const LABEL = 'board-label';
const { mqttSend } = buildAgent();

for (const scheme of ['mqtt', 'unix'] as const) {
  describe(`agent connections relayed to Mosquitto over ${scheme}://`, () => {
    let dir: string;
    let agentPath: string;
    let mosquitto: Mosquitto;
    let controller: Controller;
    let probe: MqttProbe;
    const senders: MqttSend[] = [];
    const logs: string[] = [];
    const agent = (...args: string[]): MqttSend => {
      const s = new MqttSend(mqttSend, ['--broker', `unix:${agentPath}`, '--reconnect-max', '500', ...args]);
      senders.push(s);
      return s;
    };

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'vgpio-agent-relay-'));
      agentPath = join(dir, 'agent.sock');
      mosquitto = await Mosquitto.start({ unix: scheme === 'unix' });
      const server = scheme === 'unix' ? `unix://${mosquitto.socketPath ?? ''}` : mosquitto.url;
      writeFileSync(
        join(dir, 'config.yaml'),
        `base_topic: ${B}
mqtt: { server: "${server}", client_id: bridge-${scheme}, reconnect_ms: 200 }
metrics: { port: null }
web: { enabled: false }
homeassistant: { enabled: false }
chips:
  - { name: ${CHIP}, mode: plain, shm: ${dir}/board.shm, label: ${LABEL}, agent_socket: ${agentPath}, ngpio: 8 }
`,
      );
      const settings = loadSettings({ args: ['-c', join(dir, 'config.yaml')], env: {} });
      controller = await Controller.start(settings, { log: new Logger('debug', 'bridge', (line) => logs.push(line)) });
      probe = await MqttProbe.connect(mosquitto.url, [`${B}/#`]);
      await probe.waitFor(`${B}/bridge/state`, (p) => p === '{"state":"online"}', 10_000);
    });

    after(async () => {
      await Promise.all(senders.filter((s) => s.running).map((s) => s.kill()));
      await probe.close();
      await controller.stop();
      await mosquitto.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("carries the agent's session to Mosquitto: publishes arrive, QoS 1 is acknowledged", async () => {
      assert.ok(logs.some((l) => l.includes(`chip ${CHIP}: guest agent socket ${agentPath} (relayed to ${scheme}://`)), logs.join('\n'));
      const s = agent('--client-id', `agent-${scheme}`, '--will-topic', `${B}/${LABEL}/agent`, '--will-payload', 'offline');
      await s.output.waitFor(/^connected 1$/m, 10_000);
      const from = probe.mark;
      const tag = await s.publish(`${B}/${LABEL}/agent`, 'online', 1, true);
      await s.output.waitFor(new RegExp(`^acked ${tag}$`, 'm'), 10_000);
      await s.publish(`${B}/${LABEL}/button/agent/edge`, '{"edge":"rising","seq":1}', 0);
      assert.equal((await probe.waitFor(`${B}/${LABEL}/agent`, (p) => p === 'online', 5000, from)).payload, 'online');
      await probe.waitFor(`${B}/${LABEL}/button/agent/edge`, (p) => p.includes('"seq":1'), 5000, from);
      assert.equal(controller.agentSockets.get(CHIP)?.connections, 1);
    });

    it('marks the agent offline exactly once when its connection dies: its will, published by Mosquitto', async () => {
      const s = senders[0] ?? assert.fail('no agent from the test before');
      const from = probe.mark;
      await s.kill();
      await probe.waitFor(`${B}/${LABEL}/agent`, (p) => p === 'offline', 10_000, from);
      const deadline = Date.now() + 10_000;
      while (controller.agentSockets.get(CHIP)?.connections !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(controller.agentSockets.get(CHIP)?.connections, 0);
      // Long enough for a second producer to show up; not a timing assertion.
      await new Promise((r) => setTimeout(r, 2000));
      assert.deepEqual(probe.on(`${B}/${LABEL}/agent`, from).map((m) => m.payload), ['offline']);
    });

    it('publishes nothing on the agent\'s topic for a clean exit without a will', async () => {
      const s = agent('--client-id', `clean-${scheme}`);
      await s.output.waitFor(/^connected 1$/m, 10_000);
      const from = probe.mark;
      assert.equal(await s.end(), 0);
      const deadline = Date.now() + 10_000;
      while (controller.agentSockets.get(CHIP)?.connections !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(controller.agentSockets.get(CHIP)?.connections, 0);
      assert.ok(logs.some((l) => l.includes('guest agent connection closed')));
      await new Promise((r) => setTimeout(r, 2000));
      assert.deepEqual(probe.on(`${B}/${LABEL}/agent`, from), []);
    });

    it('drops agent connections while Mosquitto is down; the agent gets through once it is back', async () => {
      await probe.close();
      await mosquitto.stop();
      const s = agent('--client-id', `retry-${scheme}`);
      await s.output.waitFor(/connection closed|cannot connect|retrying/i, 10_000);
      assert.ok(logs.some((l) => l.includes("dropping the agent's connection")), logs.slice(-10).join('\n'));
      assert.equal(s.output.text.includes('connected 1'), false);
      await mosquitto.resume();
      await s.output.waitFor(/^connected 1$/m, 20_000);
      probe = await MqttProbe.connect(mosquitto.url, [`${B}/after/#`]);
      const tag = await s.publish(`${B}/after/restart`, 'delivered', 1);
      await s.output.waitFor(new RegExp(`^acked ${tag}$`, 'm'), 10_000);
      await probe.waitFor(`${B}/after/restart`, (p) => p === 'delivered', 5000);
    });
  });
}

describe('agent connections relayed over mqtts:// (Aedes with a TLS listener as the external broker)', () => {
  let dir: string;
  let tlsBroker: EmbeddedBroker;
  let cert: string;
  let controller: Controller;
  const logs: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-agent-tls-'));
    const key = join(dir, 'key.pem');
    cert = join(dir, 'cert.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1']);
    tlsBroker = await EmbeddedBroker.start({ tcp: null, ws: null, tls: { host: '127.0.0.1', port: 0, cert, key }, users: [], persistenceDir: null });
  });
  after(async () => {
    await controller.stop();
    await tlsBroker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const startBridge = async (ca: string): Promise<void> => {
    writeFileSync(
      join(dir, 'config.yaml'),
      `mqtt: { server: "mqtts://127.0.0.1:${tlsBroker.addresses.tls?.port ?? 0}"${ca}, reconnect_ms: 200 }
metrics: { port: null }
web: { enabled: false }
homeassistant: { enabled: false }
chips:
  - { name: ${CHIP}, mode: plain, shm: ${dir}/board.shm, agent_socket: ${dir}/agent.sock }
`,
    );
    controller = await Controller.start(loadSettings({ args: ['-c', join(dir, 'config.yaml')], env: {} }), { log: new Logger('debug', 'bridge', (line) => logs.push(line)) });
  };

  it("relays the agent's session over TLS, verified with mqtt.ca", async () => {
    await startBridge(`, ca: ${cert}`);
    const seen = new Promise<string>((resolve) => {
      tlsBroker.aedes.on('publish', (packet, client) => {
        if (client !== null && packet.topic === 't/tls') resolve(`${client.id} ${packet.payload.toString()}`);
      });
    });
    const s = new MqttSend(mqttSend, ['--broker', `unix:${dir}/agent.sock`, '--client-id', 'agent-tls']);
    try {
      await s.output.waitFor(/^connected 1$/m, 10_000);
      const tag = await s.publish('t/tls', 'secure', 1);
      await s.output.waitFor(new RegExp(`^acked ${tag}$`, 'm'), 10_000);
      assert.equal(await seen, 'agent-tls secure', "the broker sees the agent's own client id");
    } finally {
      await s.kill();
    }
    await controller.stop();
  });

  it('drops the agent when the broker certificate does not verify', async () => {
    await startBridge('');
    const s = new MqttSend(mqttSend, ['--broker', `unix:${dir}/agent.sock`, '--client-id', 'agent-untrusted', '--reconnect-max', '500']);
    try {
      await s.output.waitFor(/connection closed|cannot connect|retrying/i, 10_000);
      const deadline = Date.now() + 5000;
      while (!logs.some((l) => l.includes("dropping the agent's connection")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(logs.some((l) => /broker mqtts:\/\/127\.0\.0\.1:\d+: .*(self.signed|SELF_SIGNED).*dropping the agent's connection/i.test(l)), logs.slice(-8).join('\n'));
      assert.equal(s.output.text.includes('connected 1'), false);
    } finally {
      await s.kill();
    }
  });
});

describe('agent socket start-up errors', () => {
  const dir = scratchDir('vgpio-agent-start-');

  const start = (server: string, agentSocket: string, extra = ''): Promise<Controller> => {
    writeFileSync(
      join(dir, 'config.yaml'),
      `mqtt: { server: "${server}"${extra} }
broker: { port: null }
metrics: { port: null }
web: { enabled: false }
chips:
  - { name: ${CHIP}, mode: plain, shm: ${dir}/board.shm, agent_socket: ${agentSocket} }
`,
    );
    return Controller.start(loadSettings({ args: ['-c', join(dir, 'config.yaml')], env: {} }), { log: new Logger('error', 'bridge', () => undefined) });
  };

  it('refuses to start when the agent socket folder does not exist, naming the chip and the path', async () => {
    await assert.rejects(start('embedded', join(dir, 'missing', 'agent.sock')), {
      message: `chip ${CHIP}: cannot accept guest agent connections: cannot listen on ${join(dir, 'missing', 'agent.sock')}: directory ${join(dir, 'missing')} does not exist`,
    });
  });

  it('refuses to start when the TLS files for relaying to an mqtts:// broker cannot be read', async () => {
    const path = join(dir, 'agent.sock');
    await assert.rejects(start('mqtts://127.0.0.1:1', path, `, ca: ${dir}/no-ca.pem`), { message: `cannot read MQTT TLS CA ${dir}/no-ca.pem: ENOENT` });
    assert.equal(existsSync(path), false, 'nothing left behind');
  });
});
