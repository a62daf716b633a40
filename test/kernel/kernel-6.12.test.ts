/**
 * A smoke test on the other kernel CI builds for: the cached Debian 6.12
 * (bookworm-backports) guest kernel, vgpio.ko and the level-irq module built
 * against its own headers, in doorbell mode on our IvshmemServer. The full
 * behaviour is covered on 6.1 (doorbell.test.ts, polling.test.ts); this
 * proves the module loads, probes and delivers edges and outputs on 6.12.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Guest } from '../../testkit/guest.ts';
import {
  background,
  buildGuestModules,
  chipByLabel,
  DoorbellHost,
  EV,
  GPIOD_TOOLS,
  kernelTrouble,
  until,
  type GuestModules,
} from '../../testkit/vgpio-host.ts';

const NGPIO = 8;
const LABEL = 'chip-612';
const KERNEL = '6.12';

describe(`vgpio.ko on the ${KERNEL} guest kernel (doorbell mode)`, { timeout: 300_000 }, () => {
  let bell: DoorbellHost;
  let modules: GuestModules;
  let guest: Guest;
  let chip = '';

  before(async () => {
    bell = await DoorbellHost.listen({ ngpio: NGPIO, label: LABEL, names: ['button', 'led'] });
    modules = buildGuestModules(KERNEL);
    guest = await Guest.boot({ kernelVersion: KERNEL, binaries: GPIOD_TOOLS, files: modules.files, qemuArgs: bell.qemuArgs });
    await bell.joined;
    await guest.exec('insmod /vgpio.ko');
    chip = await chipByLabel(guest, LABEL);
  });

  after(async () => {
    await guest.close();
    await bell.close();
    modules.remove();
  });

  it('runs the 6.12 kernel and probes in doorbell mode', async () => {
    assert.match((await guest.exec('uname -r')).trim(), /^6\.12\./);
    assert.match(await guest.exec('dmesg'), /chip-612: 8 lines, doorbell mode, host peer 0x0\b/);
    assert.equal(bell.region.region.guestPeer, bell.guestPeer?.id);
    const info = await guest.exec(`gpioinfo ${chip}`);
    assert.match(info, new RegExp(`${chip} - ${NGPIO} lines:`));
    assert.match(info, /line\s+0:\s+"button"\s+unused\s+input/);
    assert.match(info, /line\s+2:\s+unnamed\s+unused\s+input/);
  });

  it('delivers host edges to gpiomon through the doorbell', async () => {
    bell.region.inputs.set(0, 0);
    const monitor = await background(guest, `gpiomon -n 3 -F '%e' ${chip} 0`, () => bell.region.lines.state(0).irq.enabled);
    for (const level of [1, 1, 0, 1] as const) bell.region.inputs.set(0, level);
    assert.equal((await monitor.output).trim(), '1\n0\n1');
  });

  it('rings the host for a gpioset output', async () => {
    const from = bell.region.events.length;
    const rings = bell.rings;
    await guest.exec(`gpioset ${chip} 1=1`);
    await until('the output entry', () => bell.region.eventsOf(1, from).some((e) => e.kind === EV.OUTPUT));
    assert.deepEqual(bell.region.eventsOf(1, from), [
      { kind: EV.OUTPUT, value: 1 },
      { kind: EV.DIRECTION, value: 1 },
    ]);
    assert.ok(bell.rings > rings);
    await guest.exec('rmmod vgpio');
    assert.equal(bell.region.region.guestBound, false);
    assert.deepEqual(kernelTrouble(await guest.exec('dmesg')), []);
  });
});
