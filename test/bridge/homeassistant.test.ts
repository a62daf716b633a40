/** Home Assistant discovery payloads and QEMU options for a configuration (unit). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadSettings } from '../../bridge/config/load.ts';
import { announcedBy, discoveryMessages } from '../../bridge/extensions/homeassistant.ts';
import { bridgeId, chipId, discoveryId } from '../../bridge/homeassistant/ids.ts';
import { Topics } from '../../bridge/mqtt/topics.ts';
import { qemuArgs, shellWord } from '../../bridge/qemu-args.ts';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function settingsFrom(yaml: string): ReturnType<typeof loadSettings> {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-ha-'));
  try {
    writeFileSync(join(dir, 'c.yaml'), yaml);
    return loadSettings({ args: ['-c', join(dir, 'c.yaml')], env: {} });
  } finally {
    rmSync(dir, { recursive: true });
  }
}

const settings = settingsFrom(`chips:
  - name: my board
    label: Lab board
    lines:
      - { line: 0, name: button }
      - { line: 7, name: led, direction: output, payload_on: LIT, payload_off: DARK }
`);

describe('Home Assistant discovery', () => {
  const messages = discoveryMessages({ prefix: 'homeassistant', topics: new Topics('vgpio2mqtt'), version: '1.2.3', chips: settings.chips });
  const byTopic = new Map(messages.map((m) => [m.topic, m.payload]));
  const entry = (topic: string): Record<string, unknown> => byTopic.get(topic) ?? assert.fail(`nothing announced on ${topic}`);
  const availability = [{ topic: 'vgpio2mqtt/bridge/state', value_template: '{{ value_json.state }}' }, { topic: 'vgpio2mqtt/my board/availability' }];
  const device = { identifiers: ['vgpio2mqtt_vgpio2mqtt_my_board'], name: 'Lab board', model: 'vgpio server-mode chip, 32 lines', via_device: 'vgpio2mqtt_vgpio2mqtt', sw_version: '1.2.3' };
  const origin = { name: 'vgpio2mqtt', sw_version: '1.2.3' };

  it('announces the bridge device and, for configured lines only, a switch, a binary_sensor and events', () => {
    assert.deepEqual([...byTopic.keys()], [
      'homeassistant/binary_sensor/vgpio2mqtt_vgpio2mqtt/connection_state/config',
      'homeassistant/switch/vgpio2mqtt_vgpio2mqtt_my_board/line0/config',
      'homeassistant/event/vgpio2mqtt_vgpio2mqtt_my_board/line0_edge/config',
      'homeassistant/binary_sensor/vgpio2mqtt_vgpio2mqtt_my_board/line7/config',
      'homeassistant/event/vgpio2mqtt_vgpio2mqtt_my_board/line7_edge/config',
    ]);
  });

  it('gives a host-driven input a switch with command topic, payloads, availability (all), device and origin', () => {
    assert.deepEqual(byTopic.get('homeassistant/switch/vgpio2mqtt_vgpio2mqtt_my_board/line0/config'), {
      name: 'button',
      state_topic: 'vgpio2mqtt/my board/button',
      command_topic: 'vgpio2mqtt/my board/button/set',
      payload_on: 'ON',
      payload_off: 'OFF',
      state_on: 'ON',
      state_off: 'OFF',
      unique_id: 'vgpio2mqtt_vgpio2mqtt_my_board_line0_switch',
      availability,
      availability_mode: 'all',
      device,
      origin,
    });
  });

  it('gives a guest-driven output a binary_sensor with its payloads, and every line an event entity', () => {
    const sensor = entry('homeassistant/binary_sensor/vgpio2mqtt_vgpio2mqtt_my_board/line7/config');
    assert.equal(sensor.state_topic, 'vgpio2mqtt/my board/led');
    assert.equal(sensor.payload_on, 'LIT');
    assert.equal(sensor.command_topic, undefined);
    const event = entry('homeassistant/event/vgpio2mqtt_vgpio2mqtt_my_board/line7_edge/config');
    assert.equal(event.state_topic, 'vgpio2mqtt/my board/led/edge');
    assert.deepEqual(event.event_types, ['rising', 'falling']);
    assert.match(String(event.value_template), /"event_type": value_json\.edge/);
    const bridge = entry('homeassistant/binary_sensor/vgpio2mqtt_vgpio2mqtt/connection_state/config');
    assert.deepEqual(bridge.device, { identifiers: ['vgpio2mqtt_vgpio2mqtt'], name: 'vgpio2mqtt bridge (vgpio2mqtt)', model: 'vgpio2mqtt bridge', sw_version: '1.2.3' });
  });

  it('recognises its own earlier announcements, and only those', () => {
    const topics = new Topics('vgpio2mqtt');
    for (const { payload } of messages) assert.equal(announcedBy(Buffer.from(JSON.stringify(payload)), topics), true);
    assert.equal(announcedBy(Buffer.from(JSON.stringify(messages[1]?.payload)), new Topics('other')), false);
    assert.equal(announcedBy(Buffer.from('{"origin":{"name":"zigbee2mqtt"}}'), topics), false);
    assert.equal(announcedBy(Buffer.from('not json'), topics), false);
    assert.equal(discoveryId('a b/c+é'), 'a_b_c__');
  });

  it('gives every base topic its own ids, keeping the plain ones earlier versions announced', () => {
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
