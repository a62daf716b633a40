/**
 * `vgpio2mqtt capture` with a real TCG guest running vgpio.ko (plain mode,
 * the QEMU options `qemu-args` prints): the guest drives an output with
 * gpioset while the host toggles an input, and the VCD holds every edge the
 * bridge published, in order, with the guest's own nanosecond spacing;
 * sigrok-cli and GTKWave read it back. One boot for the file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../../bridge/config/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { qemuArgs } from '../../bridge/qemu-args.ts';
import { buildVgpio, type ModuleBuild } from '../../testkit/build-module.ts';
import { until } from '../../testkit/vgpio-host.ts';
import { startCapture } from '../../testkit/capture-cli.ts';
import { Guest } from '../../testkit/guest.ts';
import { guestKernel } from '../../testkit/kernel.ts';
import { MqttProbe } from '../../testkit/mqtt-probe.ts';
import { plainChipYaml } from '../../testkit/plain-chip.ts';
import { freePort } from '../../testkit/ports.ts';
import { gtkwaveRoundTrip, parseVcd, sigrokRead } from '../support/vcd-readers.ts';

const B = 'gc';
const CHIP = 'board';

describe('capture from a real guest (x86_64 TCG, vgpio.ko)', { timeout: 600_000 }, () => {
  let dir: string;
  let config: string;
  let controller: Controller;
  let probe: MqttProbe;
  let vgpio: ModuleBuild;
  let guest: Guest;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-guest-capture-'));
    const port = await freePort();
    config = join(dir, 'config.yaml');
    writeFileSync(config, plainChipYaml({ baseTopic: B, port, dir, chip: CHIP, lines: ['{ line: 0, name: button }', '{ line: 7, name: relay }'] }));
    const settings = loadSettings({ args: ['-c', config], env: {} });
    controller = await Controller.start(settings, { log: new Logger('error', 'bridge') });
    probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, [`${B}/#`]);
    vgpio = buildVgpio(guestKernel().headersDir);
    const chip = settings.chips[0] ?? assert.fail('no chip');
    guest = await Guest.boot({
      binaries: ['/usr/bin/gpioset'],
      files: [{ dest: '/lib/vgpio.ko', src: vgpio.ko, mode: 0o644 }],
      initCommands: ['insmod /lib/vgpio.ko poll_ms=1'],
      qemuArgs: qemuArgs(chip),
    });
    await probe.waitFor(`${B}/${CHIP}/availability`, (p) => p === 'online', 120_000).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\nguest console:\n${guest.console.tail(3000)}`);
    });
  });

  after(async () => {
    await guest.close();
    await probe.close();
    await controller.stop();
    vgpio.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records gpioset on an output and host commands on an input, as the bridge published them', async () => {
    const file = join(dir, 'guest.vcd');
    const cap = await startCapture(config, ['--chip', CHIP, '--lines', 'relay,button', '--out', file]);
    const from = probe.mark;
    const wait = async (line: string, count: number): Promise<void> => {
      await until(`${count} edges on ${line}`, () => probe.on(`${B}/${CHIP}/${line}/edge`, from).length >= count, 60_000);
    };
    for (let i = 1; i <= 3; i++) {
      await guest.exec(`gpioset ${CHIP} 7=1`);
      await wait('relay', 2 * i - 1);
      await probe.publish(`${B}/${CHIP}/button/set`, 'TOGGLE');
      await wait('button', i);
      await guest.exec(`gpioset ${CHIP} 7=0`);
      await wait('relay', 2 * i);
    }
    // The capture is a subscriber of its own: give it ample time to receive what the probe did before stopping it.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    cap.kill('SIGINT');
    assert.equal(await cap.exited, 0, cap.stderr());

    const published = probe.on(`${B}/${CHIP}/+/edge`, from).map((m) => ({ line: m.topic.split('/')[2] ?? '', edge: JSON.parse(m.payload) as Record<string, unknown> }));
    assert.equal(published.length, 9, JSON.stringify(published));
    const guestEdges = published.filter((p) => p.line === 'relay');
    assert.ok(guestEdges.every((p) => p.edge.source === 'guest' && typeof p.edge.guest_ns === 'number'), 'the guest reported its outputs in the ring');
    const expected = published.map((p) => [`${p.line}=${p.edge.edge === 'rising' ? 1 : 0}`]);

    const sigrok = sigrokRead(file);
    assert.deepEqual(sigrok.names, ['relay', 'button']);
    assert.deepEqual(sigrok.initial, [0, 0]);
    assert.deepEqual(sigrok.steps, expected);
    assert.deepEqual(gtkwaveRoundTrip(file).changes.map((c) => [`${c.name}=${c.level}`]), expected);

    const relayTimes = parseVcd(readFileSync(file, 'utf8')).changes.filter((c) => c.name === 'relay').map((c) => c.timeNs);
    const guestNs = guestEdges.map((p) => p.edge.guest_ns as number);
    const gaps = (times: number[]): number[] => times.slice(1).map((t, i) => t - (times[i] ?? 0));
    assert.deepEqual(gaps(relayTimes), gaps(guestNs), 'the guest\'s spacing of its edges, to the nanosecond');
  });
});
