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
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { qemuArgs } from '../../bridge/guest-setup/qemu-args.ts';
import { buildVgpio, type ModuleBuild } from '../../testkit/build-module.ts';
import { startCapture } from '../../testkit/capture-cli.ts';
import { Guest } from '../../testkit/guest.ts';
import { guestKernel } from '../../testkit/kernel.ts';
import { connect, type Edge, type EdgeStream, type Vgpio } from '../../client/index.ts';
import { plainChipYaml } from '../../testkit/plain-chip.ts';
import { freePort } from '../../testkit/ports.ts';
import { gtkwaveRoundTrip, parseVcd, sigrokRead } from '../support/vcd-readers.ts';

const B = 'gc';
const CHIP = 'board';

describe('capture from a real guest (x86_64 TCG, vgpio.ko)', { timeout: 600_000 }, () => {
  let dir: string;
  let config: string;
  let controller: Controller;
  let client: Vgpio;
  let vgpio: ModuleBuild;
  let guest: Guest;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-guest-capture-'));
    const port = await freePort();
    config = join(dir, 'config.yaml');
    writeFileSync(config, plainChipYaml({ baseTopic: B, port, dir, chip: CHIP, lines: ['{ line: 0, name: button }', '{ line: 7, name: relay }'] }));
    const settings = loadSettings({ args: ['-c', config], env: {} });
    controller = await Controller.start(settings, { log: new Logger('error', 'bridge') });
    client = await connect({ url: `mqtt://127.0.0.1:${port}`, baseTopic: B });
    vgpio = buildVgpio(guestKernel().headersDir);
    const chip = settings.chips[0] ?? assert.fail('no chip');
    guest = await Guest.boot({
      binaries: ['/usr/bin/gpioset'],
      files: [{ dest: '/lib/vgpio.ko', src: vgpio.ko, mode: 0o644 }],
      initCommands: ['insmod /lib/vgpio.ko poll_ms=1'],
      qemuArgs: qemuArgs(chip),
    });
    await client.chip(CHIP).waitOnline({ timeoutMs: 120_000 }).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\nguest console:\n${guest.console.tail(3000)}`);
    });
  });

  after(async () => {
    await guest.close();
    await client.close();
    await controller.stop();
    vgpio.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records gpioset on an output and host commands on an input, as the bridge published them', async () => {
    const file = join(dir, 'guest.vcd');
    const cap = await startCapture(config, ['--chip', CHIP, '--lines', 'relay,button', '--out', file]);
    const button = client.chip(CHIP).line('button');
    const relayEdges = await client.chip(CHIP).line('relay').edges({ timeoutMs: 60_000 });
    const buttonEdges = await button.edges({ timeoutMs: 60_000 });
    // Each step waits for its own edge, so this is the order the bridge published them in.
    const published: Edge[] = [];
    const next = async (stream: EdgeStream): Promise<void> => {
      const { value } = await stream.next();
      published.push(value ?? assert.fail('the stream ended'));
    };
    for (let i = 1; i <= 3; i++) {
      await guest.exec(`gpioset ${CHIP} 7=1`);
      await next(relayEdges);
      await button.toggle();
      await next(buttonEdges);
      await guest.exec(`gpioset ${CHIP} 7=0`);
      await next(relayEdges);
    }
    // The capture is a subscriber of its own: give it ample time to receive what the client saw before stopping it.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    cap.kill('SIGINT');
    assert.equal(await cap.exited, 0, cap.stderr());
    relayEdges.close();
    buttonEdges.close();

    assert.deepEqual([...relayEdges.buffered, ...buttonEdges.buffered], [], 'no edge beyond the nine');
    const guestEdges = published.filter((e) => e.line === 'relay');
    assert.ok(guestEdges.every((e) => e.source === 'guest' && e.guestNs !== undefined), 'the guest reported its outputs in the ring');
    const expected = published.map((e) => [`${e.line}=${e.edge === 'rising' ? 1 : 0}`]);

    const sigrok = sigrokRead(file);
    assert.deepEqual(sigrok.names, ['relay', 'button']);
    assert.deepEqual(sigrok.initial, [0, 0]);
    assert.deepEqual(sigrok.steps, expected);
    assert.deepEqual(gtkwaveRoundTrip(file).changes.map((c) => [`${c.name}=${c.level}`]), expected);

    const relayTimes = parseVcd(readFileSync(file, 'utf8')).changes.filter((c) => c.name === 'relay').map((c) => c.timeNs);
    const guestNs = guestEdges.map((e) => e.guestNs ?? NaN);
    const gaps = (times: number[]): number[] => times.slice(1).map((t, i) => t - (times[i] ?? 0));
    assert.deepEqual(gaps(relayTimes), gaps(guestNs), 'the guest\'s spacing of its edges, to the nanosecond');
  });
});
