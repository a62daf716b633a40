/**
 * Home Assistant discovery against real brokers holding what earlier runs
 * left: the embedded broker (Aedes, pre-loaded through its on-disk
 * persistence, as after an upgrade) and a real Mosquitto. Starting the
 * bridge migrates the per-entity configs of an earlier version in Home
 * Assistant's documented order (migrate_discovery, device config, clear),
 * removes what is no longer configured, and leaves only the device configs
 * and other tools' configs; switching discovery off clears this bridge's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { Topics } from '../../bridge/mqtt/topics.ts';
import { legacyConfigs } from '../support/ha-legacy.ts';
import { Mosquitto } from '../../testkit/mosquitto.ts';
// Raw MQTT (MqttProbe), not the typed client: it checks Home Assistant's discovery topics and retained messages.
import { MqttProbe, type Seen } from '../../testkit/mqtt-probe.ts';
import { freePort } from '../../testkit/ports.ts';
import { until } from '../../testkit/vgpio-host.ts';

const PREFIX = 'homeassistant';
const topics = new Topics('vgpio2mqtt');
const BRIDGE = `${PREFIX}/device/vgpio2mqtt_vgpio2mqtt/config`;
const BOARD = `${PREFIX}/device/vgpio2mqtt_vgpio2mqtt_board/config`;
const STALE_DEVICE = `${PREFIX}/device/vgpio2mqtt_vgpio2mqtt_gone2/config`;
/** Other tools' configs: never touched. */
const FOREIGN: Record<string, string> = {
  [`${PREFIX}/switch/z2m/lamp/config`]: JSON.stringify({ name: 'lamp', unique_id: 'z2m_lamp', command_topic: 'z2m/lamp/set', origin: { name: 'zigbee2mqtt' } }),
  [`${PREFIX}/device/other/config`]: JSON.stringify({ dev: { identifiers: ['other'] }, o: { name: 'other2mqtt' }, cmps: { a: { p: 'sensor', unique_id: 'other_a', state_topic: 'o/a' } } }),
};

const CHIPS_NOW = (dir: string): string => `chips:
  - name: board
    mode: plain
    shm: ${dir}/board.shm
    lines:
      - { line: 0, name: button }
      - { line: 2, name: relay, direction: output }
      - { line: 7, name: led, direction: output }
`;

/** What an earlier version ran with: one more line on the board, line 2 driven by the host (a switch then), and a chip since removed. */
function earlierChips(dir: string): ReturnType<typeof loadSettings>['chips'] {
  const file = join(dir, 'earlier.yaml');
  writeFileSync(file, `chips:
  - name: board
    mode: plain
    shm: ${dir}/old-board.shm
    lines:
      - { line: 0, name: button }
      - { line: 2, name: relay }
      - { line: 3, name: old }
      - { line: 7, name: led, direction: output }
  - { name: gone, mode: plain, shm: ${dir}/gone.shm, lines: [{ line: 1, name: x }] }
`);
  return loadSettings({ args: ['-c', file], env: {} }).chips;
}

/**
 * Everything the broker holds retained under the prefix. Mosquitto replays
 * retained messages before any later live one, Aedes streams them from its
 * store and a live marker can overtake them: so after our own marker, wait
 * until nothing more has come for a while (callers poll until the set is
 * the one they expect, so a slow replay only costs a retry).
 */
async function retainedDiscovery(url: string): Promise<Map<string, string>> {
  const probe = await MqttProbe.connect(url, [`${PREFIX}/#`]);
  try {
    const marker = `${PREFIX}/test-marker/${Math.random().toString(36).slice(2)}`;
    await probe.publish(marker, 'x');
    await probe.waitFor(marker, () => true, 10_000);
    for (let count = -1; count !== probe.seen.length; ) {
      count = probe.seen.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return new Map(probe.seen.filter((m) => m.retain && m.payload !== '').map((m) => [m.topic, m.payload]));
  } finally {
    await probe.close();
  }
}

async function preload(url: string, dir: string): Promise<{ kept: string[]; removed: string[] }> {
  const probe = await MqttProbe.connect(url, []);
  const legacy = legacyConfigs(PREFIX, topics, earlierChips(dir));
  for (const { topic, payload } of legacy) await probe.publish(topic, JSON.stringify(payload), true);
  for (const [topic, payload] of Object.entries(FOREIGN)) await probe.publish(topic, payload, true);
  // A device config of a later run: a chip since removed, and the board with a line since removed.
  const device = (id: string, cmps: Record<string, unknown>): string =>
    JSON.stringify({ dev: { identifiers: [id], name: id, via_device: 'vgpio2mqtt_vgpio2mqtt' }, o: { name: 'vgpio2mqtt' }, cmps });
  await probe.publish(STALE_DEVICE, device('vgpio2mqtt_vgpio2mqtt_gone2', { line0: { p: 'switch', unique_id: 'u0', state_topic: 's' } }), true);
  await probe.publish(BOARD, device('vgpio2mqtt_vgpio2mqtt_board', { line0: { p: 'switch', unique_id: 'vgpio2mqtt_vgpio2mqtt_board_line0_switch', state_topic: 's' }, line5: { p: 'switch', unique_id: 'u5', state_topic: 's' } }), true);
  await probe.close();
  // The switch of line 2 is a binary_sensor now: a different entity, so it is removed rather than migrated.
  const stays = /\/(line0|line0_edge|line2_edge|line7|line7_edge|connection_state)\/config$/;
  const all = legacy.map((l) => l.topic);
  return { kept: all.filter((t) => stays.test(t)), removed: all.filter((t) => !stays.test(t)) };
}

const EXPECTED = [BRIDGE, BOARD, ...Object.keys(FOREIGN)].sort();

/** Polls the broker until it holds exactly `expected` under the prefix. */
async function settled(url: string, expected: string[], logs: string[]): Promise<Map<string, string>> {
  let last = new Map<string, string>();
  return until('the retained discovery configs to settle', async () => {
    last = await retainedDiscovery(url);
    return JSON.stringify([...last.keys()].sort()) === JSON.stringify(expected) ? last : false;
  }, 30_000).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; held: ${[...last.keys()].join(', ')}\n${logs.join('\n')}`);
  });
}

function checkEndState(held: Map<string, string>): void {
  for (const [topic, payload] of Object.entries(FOREIGN)) assert.equal(held.get(topic), payload);
  const board = JSON.parse(held.get(BOARD) ?? '{}') as { cmps: Record<string, { p: string; unique_id: string }>; o: { name: string } };
  assert.deepEqual(Object.keys(board.cmps).sort(), ['line0', 'line0_edge', 'line2', 'line2_edge', 'line7', 'line7_edge']);
  assert.equal(board.cmps.line2?.p, 'binary_sensor');
  assert.equal(board.o.name, 'vgpio2mqtt');
}

async function startBridge(dir: string, extra: string, logs: string[]): Promise<Controller> {
  const file = join(dir, 'config.yaml');
  writeFileSync(file, `metrics: { port: null }\nweb: { enabled: false }\n${extra}${CHIPS_NOW(dir)}`);
  const settings = loadSettings({ args: ['-c', file], env: {} });
  return Controller.start(settings, { log: new Logger('info', 'bridge', (line) => logs.push(line)) });
}

describe('Home Assistant discovery with a real Mosquitto holding an earlier version\'s configs', () => {
  let dir: string;
  let broker: Mosquitto;
  let controller: Controller | undefined;
  const logs: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-ha-mosq-'));
    broker = await Mosquitto.start();
  });
  after(async () => {
    await controller?.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrates in the documented order: migrate_discovery on the old topics, the device configs, then the old topics cleared', async () => {
    const { kept, removed } = await preload(broker.url, dir);
    const watcher = await MqttProbe.connect(broker.url, [`${PREFIX}/#`]);
    const from = watcher.mark;
    controller = await startBridge(dir, `mqtt: { server: "${broker.url}", client_id: vgpio-ha-test }\n`, logs);
    const held = await settled(broker.url, EXPECTED, logs);
    checkEndState(held);
    const live = watcher.seen.slice(from).filter((m) => !m.retain);
    await watcher.close();
    const index = (test: (m: Seen) => boolean, what: string): number => {
      const i = live.findIndex(test);
      assert.ok(i >= 0, `${what} never published; saw:\n${live.map((m) => `${m.topic} ${m.payload}`).join('\n')}`);
      return i;
    };
    for (const topic of kept) {
      const migrate = index((m) => m.topic === topic && m.payload !== '', `migrate_discovery on ${topic}`);
      assert.deepEqual(JSON.parse(live[migrate]?.payload ?? ''), { migrate_discovery: true });
      const cleared = index((m) => m.topic === topic && m.payload === '', `the clearing of ${topic}`);
      // Between the two, the device config that now holds the entity.
      const device = topic.includes('/connection_state/') ? BRIDGE : BOARD;
      const announced = live.findIndex((m, i) => i > migrate && i < cleared && m.topic === device && m.payload !== '' && !m.payload.includes('"line5"'));
      assert.ok(migrate < cleared && announced > 0, `${topic}: migrate at ${migrate}, its device config, then the clearing at ${cleared}`);
    }
    for (const topic of removed) {
      assert.equal(live.filter((m) => m.topic === topic && m.payload !== '').length, 0, `${topic} is gone from the configuration: cleared, not migrated`);
      index((m) => m.topic === topic && m.payload === '', `the clearing of ${topic}`);
    }
    // The removed line is announced once as {p} only, before the config without it.
    const removal = index((m) => m.topic === BOARD && m.payload.includes('"line5":{"p":"switch"}'), 'the removal of line5');
    assert.ok(removal < live.findLastIndex((m) => m.topic === BOARD));
    index((m) => m.topic === STALE_DEVICE && m.payload === '', 'the clearing of the removed chip\'s device');
  });

  it('clears its device configs, and only those, once discovery is switched off', async () => {
    await controller?.stop();
    controller = await startBridge(dir, `mqtt: { server: "${broker.url}", client_id: vgpio-ha-test }\nhomeassistant: { enabled: false }\n`, logs);
    const held = await settled(broker.url, Object.keys(FOREIGN).sort(), logs);
    for (const [topic, payload] of Object.entries(FOREIGN)) assert.equal(held.get(topic), payload);
  });
});

describe('Home Assistant discovery with the embedded broker (Aedes) holding an earlier version\'s configs', () => {
  let dir: string;
  let url: string;
  let controller: Controller | undefined;
  const logs: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-ha-aedes-'));
    const port = await freePort();
    url = `mqtt://127.0.0.1:${port}`;
    // An earlier run on another base topic (its own discovery off) leaves the old configs in the persistence folder.
    controller = await startBridge(dir, `base_topic: prep\nhomeassistant: { enabled: false }\nbroker: { port: ${port}, persistence_dir: ${dir}/broker }\n`, logs);
    await preload(url, dir);
    await controller.stop();
    controller = undefined;
  });
  after(async () => {
    await controller?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts over them and leaves only the device configs', async () => {
    const port = new URL(url).port;
    controller = await startBridge(dir, `broker: { port: ${port}, persistence_dir: ${dir}/broker }\n`, logs);
    const held = await settled(url, EXPECTED, logs);
    checkEndState(held);
    assert.ok(logs.some((l) => l.includes(`migrating Home Assistant entity ${PREFIX}/switch/vgpio2mqtt_vgpio2mqtt_board/line0/config`)));
  });

  it('clears them once discovery is switched off', async () => {
    await controller?.stop();
    const port = new URL(url).port;
    controller = await startBridge(dir, `homeassistant: { enabled: false }\nbroker: { port: ${port}, persistence_dir: ${dir}/broker }\n`, logs);
    const held = await settled(url, Object.keys(FOREIGN).sort(), logs);
    for (const [topic, payload] of Object.entries(FOREIGN)) assert.equal(held.get(topic), payload);
  });
});
