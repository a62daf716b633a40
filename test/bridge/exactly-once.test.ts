/**
 * Commands run exactly once per MQTT message, and only messages meant as
 * commands run: QoS 1 bursts from `mosquitto_pub -l` (line commands and
 * `bridge/request/set`), the bridge's own replies, retained commands and
 * requests replayed after a restart, and a topic with an empty level. Run
 * against the embedded broker (with persistence, so retained messages
 * outlive a bridge restart) and against a real Mosquitto.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SharedMemory } from '../../native/index.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
import { Mosquitto } from '../../testkit/mosquitto.ts';
// Raw MQTT (MqttProbe), not the typed client: it counts every message a command causes, on the wire.
import { MqttProbe } from '../../testkit/mqtt-probe.ts';
import { freePort } from '../../testkit/ports.ts';
import { until } from '../../testkit/vgpio-host.ts';
import type { MetricKey } from '../../bridge/metrics/table.ts';

const B = 'xo';
const BURST = 100;

for (const kind of ['embedded', 'mosquitto'] as const) {
  describe(`exactly-once commands, ${kind} broker`, () => {
    let dir: string;
    let config: string;
    let port: number;
    let mosquitto: Mosquitto | undefined;
    let controller: Controller;
    let mem: SharedMemory;
    let guest: FakeGuest;
    let probe: MqttProbe;
    const logs: string[] = [];

    const start = async (availability = 'online'): Promise<void> => {
      controller = await Controller.start(loadSettings({ args: ['-c', config], env: {} }), { log: new Logger('warn', 'bridge', (line) => logs.push(line)) });
      probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, [`${B}/#`]);
      await probe.waitFor(`${B}/board/availability`, (p) => p === availability, 10_000);
    };
    const stop = async (): Promise<void> => {
      await probe.close();
      await controller.stop();
    };
    /** Runs mosquitto_pub against the broker under test, with `stdin` as its input. */
    const pub = async (args: string[], stdin = ''): Promise<void> => {
      const running = promisify(execFile)('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), ...args]);
      running.child.stdin?.end(stdin);
      await running;
    };
    /** `lines` published one message per line by one mosquitto_pub -l process with QoS 1. */
    const burst = (topic: string, lines: string[]): Promise<void> => pub(['-q', '1', '-t', topic, '-l'], lines.map((l) => `${l}\n`).join(''));
    const total = (name: MetricKey, ...labels: string[]): number => controller.counters.total(name, ...labels);

    before(async () => {
      dir = mkdtempSync('/dev/shm/vgpio-exactly-once-');
      config = join(dir, 'config.yaml');
      if (kind === 'mosquitto') {
        mosquitto = await Mosquitto.start();
        port = mosquitto.port;
      } else {
        port = await freePort();
      }
      const mqtt = kind === 'mosquitto' ? `mqtt:\n  server: mqtt://127.0.0.1:${port}\n  client_id: vgpio2mqtt-xo\n` : `broker:\n  port: ${port}\n  persistence_dir: ${dir}/broker\n`;
      writeFileSync(
        config,
        `base_topic: ${B}
${mqtt}homeassistant: { enabled: false }
metrics: { port: 0 }
web: { enabled: false }
chips:
  - { name: board, mode: plain, shm: ${dir}/board.shm, poll_ms: 5, ngpio: 8 }
`,
      );
      await start('offline');
      mem = SharedMemory.open(join(dir, 'board.shm'));
      guest = new FakeGuest(mem);
      guest.bind();
      await probe.waitFor(`${B}/board/availability`, (p) => p === 'online', 10_000, probe.mark);
    });

    after(async () => {
      await stop();
      await mosquitto?.close();
      mem.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it(`${BURST} QoS 1 bridge/request/set TOGGLEs from mosquitto_pub -l are applied ${BURST} times, and the replies are no commands`, async () => {
      const from = probe.mark;
      const edges = total('edgePublished', 'board', 'host');
      await burst(`${B}/bridge/request/set`, Array<string>(BURST).fill('{"chip":"board","line":5,"state":"TOGGLE"}'));
      await until(`${BURST} responses`, () => probe.on(`${B}/bridge/response/set`, from).length >= BURST, 20_000);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(probe.on(`${B}/bridge/response/set`, from).length, BURST, 'one response per request');
      assert.equal(total('commandReceived', 'board'), BURST);
      assert.equal(total('commandApplied', 'board', 'applied'), BURST);
      assert.equal(total('edgePublished', 'board', 'host') - edges, BURST, 'one host edge per toggle');
      assert.equal(guest.input(5), 0, 'an even number of toggles');
      assert.deepEqual(probe.on(`${B}/bridge/event`, from).map((m) => m.payload), [], 'the bridge rejected none of its own replies');
      assert.equal(total('commandRejected'), 0);
    });

    it(`${BURST} QoS 1 .../set TOGGLEs from mosquitto_pub -l are applied ${BURST} times`, async () => {
      const edges = total('edgePublished', 'board', 'host');
      const received = total('commandReceived', 'board');
      await burst(`${B}/board/6/set`, Array<string>(BURST).fill('TOGGLE'));
      await until(`${BURST} commands`, () => total('commandReceived', 'board') - received >= BURST, 20_000);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(total('commandReceived', 'board') - received, BURST);
      assert.equal(total('edgePublished', 'board', 'host') - edges, BURST);
      assert.equal(guest.input(6), 0);
    });

    it('answers a QoS 1 command on a topic with an empty level with bad_topic, as QoS 0, and keeps working', async () => {
      for (const qos of ['0', '1']) {
        const from = probe.mark;
        await pub(['-q', qos, '-t', `${B}//b2/set`, '-m', 'ON']);
        const event = await probe.waitFor(`${B}/bridge/event`, (p) => p.includes('command_rejected'), 5000, from);
        assert.match(event.payload, /"reason":"bad_topic"/, `QoS ${qos}`);
      }
      assert.equal(total('commandRejected', '', 'bad_topic'), 2);
      const from = probe.mark;
      await probe.publish(`${B}/board/3/set`, 'ON');
      await probe.waitFor(`${B}/board/3`, (p) => p === 'ON', 5000, from);
    });

    it('ignores, logs and counts retained commands and requests replayed after a restart', async () => {
      // Live, a retained command is a command like any other.
      await probe.publish(`${B}/board/1/set`, 'ON', true);
      await until('line 1 ON', () => guest.input(1) === 1);
      await probe.publish(`${B}/board/1/set`, 'OFF');
      await until('line 1 OFF', () => guest.input(1) === 0);
      await probe.publish(`${B}/bridge/request/set`, '{"chip":"board","line":2,"state":"TOGGLE"}', true);
      await until('line 2 toggled', () => guest.input(2) === 1);
      await stop();
      logs.length = 0;
      await start();
      await until('the retained command and request counted', () => total('commandRejected', 'board', 'retained') + total('request', 'set', 'ignored') >= 2);
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(logs.some((l) => l.includes('command on xo/board/1/set refused: a retained command')), logs.join('\n'));
      assert.ok(logs.some((l) => l.includes('retained request on xo/bridge/request/set ignored')), logs.join('\n'));
      assert.equal(guest.input(1), 0, 'the retained ON was not replayed');
      assert.equal(guest.input(2), 1, 'the retained TOGGLE request was not replayed');
      assert.equal(total('commandRejected', 'board', 'retained'), 1);
      // A broker replays retained messages once per matching subscription, and `+/+/set` matches `bridge/request/set` too.
      assert.ok(total('request', 'set', 'ignored') >= 1);
      assert.equal(total('commandApplied'), 0);
      await probe.publish(`${B}/board/1/set`, '', true);
      await probe.publish(`${B}/bridge/request/set`, '', true);
    });
  });
}
