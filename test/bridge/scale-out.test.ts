/**
 * Scale-out as docs/deployment.md describes it: three bridge processes
 * (their own base topics and client ids, 8 chips each, every chip with a
 * bound fake guest, the same chip names in every bridge) on one real
 * Mosquitto. Every command reaches the right chip of the right bridge and
 * no other; no Home Assistant discovery id or topic repeats across the
 * bridges; SIGKILL of one bridge makes Mosquitto publish its will, and the
 * other two carry on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SharedMemory } from '../../native/index.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
import { Mosquitto } from '../../testkit/mosquitto.ts';
// Raw MQTT (MqttProbe), not the typed client: it checks which bridge publishes what, topic by topic, on a shared broker.
import { MqttProbe } from '../../testkit/mqtt-probe.ts';
import { until } from '../../testkit/vgpio-host.ts';

const CLI = join(import.meta.dirname, '../../bridge/cli.ts');
const BRIDGES = 3;
const CHIPS = 8;
const LINES = 4;

interface Site {
  base: string;
  process: ChildProcess;
  log: string;
  guests: FakeGuest[];
  mems: SharedMemory[];
}

/** The one line each chip of each bridge gets a command for: different for neighbours. */
const target = (bridge: number, chip: number): number => (bridge * CHIPS + chip) % LINES;

describe('three bridges on one Mosquitto', { timeout: 240_000 }, () => {
  let dir: string;
  let mosquitto: Mosquitto;
  let probe: MqttProbe;
  const sites: Site[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-scale-'));
    mosquitto = await Mosquitto.start();
    probe = await MqttProbe.connect(mosquitto.url, ['+/bridge/state', 'homeassistant/#']);
    for (let b = 0; b < BRIDGES; b++) {
      const base = `site${b + 1}`;
      const chips = Array.from({ length: CHIPS }, (_, c) => {
        const lines = Array.from({ length: LINES }, (_, l) => `{ line: ${l}, name: l${l} }`).join(', ');
        return `  - { name: chip${c}, mode: plain, shm: ${dir}/${base}-chip${c}.shm, ngpio: 8, poll_ms: 10, lines: [${lines}] }`;
      });
      const config = join(dir, `${base}.yaml`);
      writeFileSync(config, `base_topic: ${base}\nmqtt: { server: "${mosquitto.url}", client_id: vgpio2mqtt-${base}, keepalive: 5 }\nmetrics: { port: null }\nweb: { enabled: false }\nchips:\n${chips.join('\n')}\n`);
      const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'start', '-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      const site: Site = { base, process: child, log: '', guests: [], mems: [] };
      child.stderr.on('data', (chunk: Buffer) => (site.log += chunk.toString()));
      sites.push(site);
    }
    for (const site of sites) {
      await probe.waitFor(`${site.base}/bridge/state`, (p) => p === '{"state":"online"}', 60_000).catch((error: unknown) => {
        throw new Error(`${site.base} did not come online: ${String(error)}\n${site.log}`);
      });
      for (let c = 0; c < CHIPS; c++) {
        const mem = SharedMemory.open(join(dir, `${site.base}-chip${c}.shm`));
        const guest = new FakeGuest(mem);
        guest.bind();
        site.mems.push(mem);
        site.guests.push(guest);
      }
    }
    await probe.client.subscribeAsync(['+/+/availability', '+/+/+'], { qos: 1 });
    for (const site of sites) {
      for (let c = 0; c < CHIPS; c++) await probe.waitFor(`${site.base}/chip${c}/availability`, (p) => p === 'online', 30_000);
    }
  });

  after(async () => {
    for (const site of sites) {
      if (site.process.exitCode === null && site.process.signalCode === null) site.process.kill('SIGKILL');
      for (const mem of site.mems) mem.close();
    }
    await probe.close();
    await mosquitto.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every line of every live bridge's chips, as the fake guests see them. */
  const levels = (): number[][][] => sites.map((site) => site.guests.map((guest) => Array.from({ length: LINES }, (_, l) => guest.input(l))));

  it('takes every command to the right chip of the right bridge, and to no other', async () => {
    for (let b = 0; b < BRIDGES; b++) {
      for (let c = 0; c < CHIPS; c++) await probe.publish(`site${b + 1}/chip${c}/l${target(b, c)}/set`, 'ON');
    }
    const expected = sites.map((_, b) => Array.from({ length: CHIPS }, (_, c) => Array.from({ length: LINES }, (_, l) => (l === target(b, c) ? 1 : 0))));
    await until('every command applied', () => JSON.stringify(levels()) === JSON.stringify(expected) || false, 30_000).catch(() => {
      assert.deepEqual(levels(), expected);
    });
    // And each state comes back on the bridge's own topic.
    for (let b = 0; b < BRIDGES; b++) {
      for (let c = 0; c < CHIPS; c++) await probe.waitFor(`site${b + 1}/chip${c}/l${target(b, c)}`, (p) => p === 'ON', 30_000);
    }
  });

  it('announces Home Assistant devices and entities whose ids and topics never collide across bridges', async () => {
    // Per bridge: its own device (its connection state), and a device per chip with a switch and an edge event per configured line.
    const devicesPerBridge = 1 + CHIPS;
    const entitiesPerBridge = 1 + CHIPS * LINES * 2;
    const announced = (): Map<string, string> => new Map(probe.on('homeassistant/device/+/config').filter((m) => m.payload !== '').map((m) => [m.topic, m.payload]));
    await until('every device config', () => announced().size >= BRIDGES * devicesPerBridge || false, 30_000);
    const ids = new Map<string, string>();
    const devices = new Set<string>();
    for (const [topic, payload] of announced()) {
      const config = JSON.parse(payload) as { dev: { identifiers: string[] }; cmps: Record<string, { unique_id: string }> };
      const device = config.dev.identifiers[0] ?? '';
      assert.ok(!devices.has(device), `device ${device} is announced twice`);
      devices.add(device);
      for (const { unique_id: id } of Object.values(config.cmps)) {
        const owner = ids.get(id);
        assert.ok(owner === undefined, `${id} is announced on ${owner ?? ''} and ${topic}`);
        ids.set(id, topic);
      }
    }
    assert.equal(devices.size, BRIDGES * devicesPerBridge);
    assert.equal(ids.size, BRIDGES * entitiesPerBridge);
  });

  it('publishes the will of a bridge killed with SIGKILL, and leaves the others untouched', async () => {
    const [first, killed, third] = sites;
    assert.ok(first !== undefined && killed !== undefined && third !== undefined);
    const from = probe.mark;
    killed.process.kill('SIGKILL');
    await probe.waitFor(`${killed.base}/bridge/state`, (p) => p === '{"state":"offline"}', 30_000, from);
    const before = levels();
    // The survivors still apply commands, each on its own chip.
    await probe.publish(`${first.base}/chip0/l${target(0, 0)}/set`, 'OFF');
    await probe.publish(`${third.base}/chip7/l${target(2, 7)}/set`, 'OFF');
    await until('both commands applied', () => first.guests[0]?.input(target(0, 0)) === 0 && third.guests[7]?.input(target(2, 7)) === 0, 30_000);
    const after = levels();
    const changed: string[] = [];
    for (let b = 0; b < BRIDGES; b++) {
      for (let c = 0; c < CHIPS; c++) {
        for (let l = 0; l < LINES; l++) if (before[b]?.[c]?.[l] !== after[b]?.[c]?.[l]) changed.push(`site${b + 1}/chip${c}/l${l}`);
      }
    }
    assert.deepEqual(changed, [`site1/chip0/l${target(0, 0)}`, `site3/chip7/l${target(2, 7)}`]);
    // Their state stays online: the will was the killed bridge's alone.
    const states = probe.on('+/bridge/state', from).map((m) => `${m.topic} ${m.payload}`);
    assert.deepEqual(states, [`${killed.base}/bridge/state {"state":"offline"}`]);
    assert.equal(first.process.exitCode, null);
    assert.equal(third.process.exitCode, null);
  });
});
