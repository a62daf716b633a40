/**
 * Home Assistant device discovery payloads for a configuration (unit),
 * checked against Home Assistant's documented device-discovery schema, and
 * the ids they carry.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadSettings } from '../../bridge/settings/load.ts';
import { deviceConfigs, withRemovals, type DeviceConfig } from '../../bridge/extensions/homeassistant/payloads.ts';
import { ownedConfig } from '../../bridge/extensions/homeassistant/retained.ts';
import { bridgeId, chipId, discoveryId } from '../../bridge/extensions/homeassistant/ids.ts';
import { Topics } from '../../bridge/mqtt/topics.ts';
import { qemuArgs, shellWord } from '../../bridge/guest-setup/qemu-args.ts';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { legacyConfigs } from '../support/ha-legacy.ts';

type Json = Record<string, unknown>;

function settingsFrom(yaml: string): ReturnType<typeof loadSettings> {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-ha-'));
  try {
    writeFileSync(join(dir, 'c.yaml'), yaml);
    return loadSettings({ args: ['-c', join(dir, 'c.yaml')], env: {} });
  } finally {
    rmSync(dir, { recursive: true });
  }
}

/**
 * Home Assistant's device-discovery rules (MQTT integration documentation,
 * "Device discovery payload"), as far as a payload shows them:
 * - topic `<prefix>/device/<object_id>/config`, object id of [a-zA-Z0-9_-];
 * - the root has the device (`dev`) and origin (`o`) mappings, which
 *   components cannot override, and otherwise only shared options
 *   (availability, state_topic, command_topic, qos, encoding) and the
 *   components (`cmps`);
 * - the device has `identifiers` and only documented device keys; the
 *   origin has a `name` and only `name`, `sw_version`, `support_url`;
 * - each component has its platform (`p`), a `unique_id` (they are entity
 *   components), at least one option of its own, and only options its
 *   platform documents; `default_entity_id` is `<platform>.<object id>`.
 */
const ROOT_KEYS = new Set(['dev', 'o', 'cmps', 'availability', 'availability_mode', 'state_topic', 'command_topic', 'qos', 'encoding']);
const DEVICE_KEYS = new Set(['identifiers', 'connections', 'name', 'manufacturer', 'model', 'model_id', 'hw_version', 'sw_version', 'serial_number', 'suggested_area', 'configuration_url', 'via_device']);
const ORIGIN_KEYS = new Set(['name', 'sw_version', 'support_url']);
const ENTITY_KEYS = ['p', 'unique_id', 'name', 'default_entity_id', 'entity_category', 'availability', 'availability_mode', 'device_class', 'icon'];
const PLATFORM_KEYS: Record<string, Set<string>> = {
  switch: new Set([...ENTITY_KEYS, 'state_topic', 'command_topic', 'payload_on', 'payload_off', 'state_on', 'state_off', 'value_template', 'optimistic', 'retain', 'qos']),
  binary_sensor: new Set([...ENTITY_KEYS, 'state_topic', 'payload_on', 'payload_off', 'value_template', 'off_delay', 'expire_after', 'force_update', 'qos']),
  event: new Set([...ENTITY_KEYS, 'state_topic', 'event_types', 'value_template', 'qos']),
};

function checkDeviceDiscovery(prefix: string, { topic, payload }: DeviceConfig): void {
  assert.match(topic, new RegExp(`^${prefix}/device/[a-zA-Z0-9_-]+/config$`));
  for (const key of Object.keys(payload)) assert.ok(ROOT_KEYS.has(key), `${topic}: root key ${key}`);
  const dev = payload.dev as Json;
  const origin = payload.o as Json;
  assert.ok(Array.isArray(dev.identifiers) && dev.identifiers.length > 0, `${topic}: device identifiers`);
  for (const key of Object.keys(dev)) assert.ok(DEVICE_KEYS.has(key), `${topic}: device key ${key}`);
  assert.equal(typeof origin.name, 'string', `${topic}: origin name`);
  for (const key of Object.keys(origin)) assert.ok(ORIGIN_KEYS.has(key), `${topic}: origin key ${key}`);
  if (payload.availability !== undefined) {
    for (const entry of payload.availability as Json[]) assert.equal(typeof entry.topic, 'string');
    assert.ok(['all', 'any', 'latest'].includes(String(payload.availability_mode)));
  }
  const cmps = payload.cmps as Record<string, Json>;
  assert.ok(Object.keys(cmps).length > 0, `${topic}: components`);
  for (const [id, component] of Object.entries(cmps)) {
    assert.match(id, /^[a-zA-Z0-9_-]+$/, `${topic}: component id ${id}`);
    const platform = String(component.p);
    const allowed = PLATFORM_KEYS[platform] ?? assert.fail(`${topic} ${id}: platform ${platform}`);
    assert.equal(typeof component.unique_id, 'string', `${topic} ${id}: unique_id`);
    assert.ok(Object.keys(component).length > 2, `${topic} ${id}: an option of its own`);
    for (const key of Object.keys(component)) assert.ok(allowed.has(key), `${topic} ${id}: ${platform} option ${key}`);
    assert.ok(!('dev' in component) && !('device' in component) && !('o' in component) && !('origin' in component), `${topic} ${id}: overrides device or origin`);
    if (component.default_entity_id !== undefined) assert.match(component.default_entity_id as string, new RegExp(`^${platform}\\.[a-z0-9]+(_[a-z0-9]+)*$`));
  }
}

const settings = settingsFrom(`chips:
  - name: my board
    label: Lab board
    lines:
      - { line: 0, name: button }
      - { line: 7, name: LED 1, direction: output, payload_on: LIT, payload_off: DARK }
  - { name: quiet, mode: plain }
`);

describe('Home Assistant device discovery', () => {
  const topics = new Topics('vgpio2mqtt');
  const configs = deviceConfigs({ prefix: 'homeassistant', topics, version: '1.2.3', chips: settings.chips, supportUrl: 'https://help.example/vgpio' });
  const byTopic = new Map(configs.map((c) => [c.topic, c.payload]));
  const config = (topic: string): Json => byTopic.get(topic) ?? assert.fail(`nothing announced on ${topic}`);
  const origin = { name: 'vgpio2mqtt', sw_version: '1.2.3', support_url: 'https://help.example/vgpio' };

  it('announces one device config for the bridge and one per chip with configured lines, each valid device discovery', () => {
    assert.deepEqual([...byTopic.keys()], ['homeassistant/device/vgpio2mqtt_vgpio2mqtt/config', 'homeassistant/device/vgpio2mqtt_vgpio2mqtt_my_board/config']);
    for (const c of configs) checkDeviceDiscovery('homeassistant', c);
    const uniqueIds = configs.flatMap((c) => Object.values(c.payload.cmps as Record<string, Json>).map((m) => m.unique_id));
    assert.equal(new Set(uniqueIds).size, uniqueIds.length);
  });

  it('gives the bridge device its version and a connectivity component', () => {
    assert.deepEqual(config('homeassistant/device/vgpio2mqtt_vgpio2mqtt/config'), {
      dev: { identifiers: ['vgpio2mqtt_vgpio2mqtt'], name: 'vgpio2mqtt bridge (vgpio2mqtt)', manufacturer: 'vgpio2mqtt', model: 'vgpio2mqtt bridge', sw_version: '1.2.3' },
      o: origin,
      cmps: {
        connection_state: {
          p: 'binary_sensor',
          unique_id: 'vgpio2mqtt_vgpio2mqtt_connection_state',
          name: 'Connection state',
          device_class: 'connectivity',
          entity_category: 'diagnostic',
          state_topic: 'vgpio2mqtt/bridge/state',
          value_template: '{{ value_json.state }}',
          payload_on: 'online',
          payload_off: 'offline',
        },
      },
    });
  });

  it('gives a chip a full device block via the bridge, shared availability, and per configured line a switch or binary_sensor and an event', () => {
    assert.deepEqual(config('homeassistant/device/vgpio2mqtt_vgpio2mqtt_my_board/config'), {
      dev: {
        identifiers: ['vgpio2mqtt_vgpio2mqtt_my_board'],
        name: 'Lab board',
        manufacturer: 'vgpio2mqtt',
        model: 'vgpio server-mode chip',
        hw_version: 'shared-memory protocol 2, 32 lines',
        via_device: 'vgpio2mqtt_vgpio2mqtt',
      },
      o: origin,
      availability: [{ topic: 'vgpio2mqtt/bridge/state', value_template: '{{ value_json.state }}' }, { topic: 'vgpio2mqtt/my board/availability' }],
      availability_mode: 'all',
      cmps: {
        line0: {
          p: 'switch',
          unique_id: 'vgpio2mqtt_vgpio2mqtt_my_board_line0_switch',
          default_entity_id: 'switch.my_board_button',
          command_topic: 'vgpio2mqtt/my board/button/set',
          state_on: 'ON',
          state_off: 'OFF',
          name: 'button',
          state_topic: 'vgpio2mqtt/my board/button',
          payload_on: 'ON',
          payload_off: 'OFF',
        },
        line0_edge: {
          p: 'event',
          unique_id: 'vgpio2mqtt_vgpio2mqtt_my_board_line0_edge',
          default_entity_id: 'event.my_board_button_edge',
          name: 'button edge',
          state_topic: 'vgpio2mqtt/my board/button/edge',
          event_types: ['rising', 'falling'],
          value_template: '{{ {"event_type": value_json.edge, "source": value_json.source, "seq": value_json.seq} | to_json }}',
        },
        line7: {
          p: 'binary_sensor',
          unique_id: 'vgpio2mqtt_vgpio2mqtt_my_board_line7_binary_sensor',
          default_entity_id: 'binary_sensor.my_board_led_1',
          name: 'LED 1',
          state_topic: 'vgpio2mqtt/my board/LED 1',
          payload_on: 'LIT',
          payload_off: 'DARK',
        },
        line7_edge: {
          p: 'event',
          unique_id: 'vgpio2mqtt_vgpio2mqtt_my_board_line7_edge',
          default_entity_id: 'event.my_board_led_1_edge',
          name: 'LED 1 edge',
          state_topic: 'vgpio2mqtt/my board/LED 1/edge',
          event_types: ['rising', 'falling'],
          value_template: '{{ {"event_type": value_json.edge, "source": value_json.source, "seq": value_json.seq} | to_json }}',
        },
      },
    });
  });

  it('links every device to a configuration page when given one, and leaves support_url out without one', () => {
    const linked = deviceConfigs({ prefix: 'ha', topics, version: '1', chips: settings.chips, supportUrl: null, configurationUrl: 'http://127.0.0.1:8080/' });
    for (const c of linked) {
      checkDeviceDiscovery('ha', c);
      assert.equal((c.payload.dev as Json).configuration_url, 'http://127.0.0.1:8080/');
      assert.deepEqual(c.payload.o, { name: 'vgpio2mqtt', sw_version: '1' });
    }
  });

  it('keeps the node ids, object ids and unique_ids of the per-entity configs it replaces, as the migration asks', () => {
    const legacy = legacyConfigs('homeassistant', topics, settings.chips);
    for (const { topic, payload } of legacy) {
      const [, component = '', node = '', object = ''] = topic.split('/');
      const device = config(`homeassistant/device/${node}/config`);
      const moved = (device.cmps as Record<string, Json>)[object] ?? assert.fail(`${topic} has no component ${object} in device ${node}`);
      assert.equal(moved.p, component);
      assert.equal(moved.unique_id, payload.unique_id);
    }
  });

  it('removes components with a {p} entry, keeping the others', () => {
    const board = configs[1] ?? assert.fail('no chip config');
    const removal = withRemovals(board, { line9: 'switch', line0: 'switch' });
    const cmps = removal.payload.cmps as Record<string, Json>;
    assert.deepEqual(cmps.line9, { p: 'switch' });
    assert.equal(cmps.line0?.unique_id, 'vgpio2mqtt_vgpio2mqtt_my_board_line0_switch');
  });

  it('recognises its own retained configs, per-entity and device, and only those', () => {
    const mine = (topic: string, payload: unknown, on = topics): string | undefined => ownedConfig('homeassistant', topic, Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), on)?.kind;
    for (const { topic, payload } of legacyConfigs('homeassistant', topics, settings.chips)) {
      assert.equal(mine(topic, payload), 'entity', topic);
      assert.equal(mine(topic, payload, new Topics('other')), undefined);
    }
    for (const { topic, payload } of configs) {
      assert.deepEqual(ownedConfig('homeassistant', topic, Buffer.from(JSON.stringify(payload)), topics), { kind: 'device', platforms: Object.fromEntries(Object.entries(payload.cmps as Record<string, Json>).map(([k, c]) => [k, c.p])) });
      assert.equal(mine(topic, payload, new Topics('vgpio2mqtt/x')), undefined);
    }
    assert.equal(mine('homeassistant/device/z2m/config', { dev: { ids: ['vgpio2mqtt_vgpio2mqtt'] }, o: { name: 'zigbee2mqtt' } }), undefined);
    assert.equal(mine('homeassistant/switch/a/b/config', { origin: { name: 'zigbee2mqtt' }, state_topic: 'vgpio2mqtt/bridge/state' }), undefined);
    assert.equal(mine('homeassistant/switch/a/b/config', 'not json'), undefined);
    assert.equal(mine('homeassistant/device/x/config', '{"migrate_discovery": true}'), undefined);
  });

  it('gives every base topic its own ids, keeping the plain ones earlier versions announced', () => {
    assert.equal(discoveryId('a b/c+é'), 'a_b_c__');
    assert.equal(bridgeId('vgpio2mqtt'), 'vgpio2mqtt_vgpio2mqtt');
    assert.equal(bridgeId('lab-gpio'), 'vgpio2mqtt_lab-gpio');
    assert.equal(bridgeId('lab/gpio'), 'vgpio2mqtt__lab-2fgpio');
    assert.equal(bridgeId('lab_gpio'), 'vgpio2mqtt__lab-5fgpio');
    assert.equal(bridgeId('lab-/gpio'), 'vgpio2mqtt__lab---2fgpio');
    assert.equal(bridgeId('é'), 'vgpio2mqtt__-c3-a9');
    // Bases and chips that earlier versions ran together stay apart: the base part never holds a `_` after its first character.
    const bases = ['a', 'a_b', 'a/b', 'a b', 'a-b', 'a--b', 'a-2fb', '_a', 'a/b/c', 'a_b_c'];
    const chips = ['b', 'b_c', 'c', '_b', '2fb'];
    const ids = bases.flatMap((base) => [bridgeId(base), ...chips.map((chip) => chipId(base, chip))]);
    assert.equal(new Set(ids).size, ids.length, ids.join(' '));
    for (const id of ids) assert.match(id, /^[a-zA-Z0-9_-]+$/);
  });
});

describe('qemu-args', () => {
  it('prints ivshmem-doorbell on the chip socket for server and client mode, ivshmem-plain on the file for plain mode', () => {
    const s = settingsFrom(`chips:
  - { name: srv, socket: "/tmp/a,b.sock", vectors: 2 }
  - { name: cli, mode: client, socket: /run/ext.sock }
  - { name: pl, mode: plain, shm: /dev/shm/pl, ngpio: 1024 }
`);
    const [srv, cli, pl] = s.chips.map(qemuArgs);
    assert.deepEqual(srv, ['-chardev', 'socket,id=vgpio-srv,path=/tmp/a,,b.sock', '-device', 'ivshmem-doorbell,chardev=vgpio-srv,vectors=2']);
    assert.deepEqual(cli, ['-chardev', 'socket,id=vgpio-cli,path=/run/ext.sock', '-device', 'ivshmem-doorbell,chardev=vgpio-cli,vectors=1']);
    assert.deepEqual(pl, ['-object', 'memory-backend-file,id=vgpio-pl,share=on,mem-path=/dev/shm/pl,size=65536', '-device', 'ivshmem-plain,memdev=vgpio-pl']);
    assert.equal(shellWord("it's"), `'it'\\''s'`);
    assert.equal(shellWord('a,b=c'), 'a,b=c');
  });
});
