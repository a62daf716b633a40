/**
 * A waveform that cannot go on is reported on `bridge/event` as
 * `waveform_stopped` (chip, line, kind, reason), not as a shared-memory
 * problem: the whole bridge with its embedded broker, two plain-mode chips
 * and fake guests. On one the guest makes the line an output; the other's
 * shared-memory file is truncated under it. Either way no step is written
 * after the stop.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SharedMemory } from '../../native/index.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
import { MqttProbe } from '../../testkit/mqtt-probe.ts';
import { freePort } from '../../testkit/ports.ts';

const B = 'ws';
const WAVE = 0;
const PWM = JSON.stringify({ pwm: { period_ms: 20, duty: 50 } });

describe('a waveform that cannot go on: waveform_stopped on bridge/event', () => {
  let dir: string;
  let controller: Controller;
  let probe: MqttProbe;
  const mems: SharedMemory[] = [];
  const guests = new Map<string, FakeGuest>();

  before(async () => {
    dir = mkdtempSync('/dev/shm/vgpio-wave-stopped-');
    const port = await freePort();
    const chip = (name: string): string => `  - name: ${name}
    mode: plain
    shm: ${dir}/${name}.shm
    poll_ms: 5
    ngpio: 8
    lines:
      - { line: ${WAVE}, name: wave }
`;
    const config = join(dir, 'config.yaml');
    writeFileSync(config, `base_topic: ${B}
broker: { port: ${port} }
metrics: { port: null }
web: { enabled: false }
homeassistant: { enabled: false }
chips:
${chip('board')}${chip('fragile')}`);
    controller = await Controller.start(loadSettings({ args: ['-c', config], env: {} }), { log: new Logger('error', 'bridge', () => undefined) });
    for (const name of ['board', 'fragile']) {
      const mem = SharedMemory.open(join(dir, `${name}.shm`));
      mems.push(mem);
      const guest = new FakeGuest(mem);
      guest.bind();
      guests.set(name, guest);
    }
    probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, [`${B}/#`]);
    for (const name of guests.keys()) await probe.waitFor(`${B}/${name}/availability`, (p) => p === 'online');
  });

  after(async () => {
    await probe.close();
    await controller.stop();
    for (const mem of mems) mem.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the pwm on `chip`'s wave line and waits until it has made a few edges. */
  const startWave = async (chip: string): Promise<void> => {
    const from = probe.mark;
    await probe.publish(`${B}/${chip}/wave/set`, PWM);
    await probe.waitFor(`${B}/${chip}/wave/edge`, () => probe.on(`${B}/${chip}/wave/edge`, from).length >= 3, 5000, from);
  };

  /** The waveform_stopped event for `chip`, and that nothing reported it as a shared-memory problem. */
  const stoppedEvent = async (chip: string, from: number): Promise<Record<string, unknown>> => {
    const seen = await probe.waitFor(`${B}/bridge/event`, (p) => p.includes('waveform') && p.includes(`"${chip}"`), 5000, from);
    const event = JSON.parse(seen.payload) as Record<string, unknown>;
    assert.equal(event.type, 'waveform_stopped', seen.payload);
    assert.ok(!probe.on(`${B}/bridge/event`, from).some((m) => m.payload.includes('waveform') && m.payload.includes('shared_memory_problem')), 'not a shared-memory problem');
    return event;
  };

  it('reports the guest making the line an output, with chip, line, kind and reason, and writes no later step', async () => {
    await startWave('board');
    const from = probe.mark;
    guests.get('board')?.setDirection(WAVE, true);
    const event = await stoppedEvent('board', from);
    assert.deepEqual({ ...event, message: undefined }, { type: 'waveform_stopped', chip: 'board', line: 'wave', kind: 'pwm', reason: 'guest_output', message: undefined });
    assert.match(String(event.message), /line wave: the pwm waveform stopped, the guest made the line an output/);
    const edges = probe.on(`${B}/board/wave/edge`).length;
    // Absence takes a wait: 10 periods of the stopped pwm.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(probe.on(`${B}/board/wave/edge`).length, edges, 'no edge after the stop (10 periods later)');
  });

  it('reports the chip failing under a running waveform (its file truncated)', async () => {
    await startWave('fragile');
    const from = probe.mark;
    truncateSync(join(dir, 'fragile.shm'), 0);
    const event = await stoppedEvent('fragile', from);
    assert.equal(event.reason, 'chip_failed', JSON.stringify(event));
    assert.equal(event.line, 'wave');
    assert.match(String(event.message), /the pwm waveform stopped, chip fragile failed: .*truncated/);
  });
});
