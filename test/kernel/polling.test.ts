/**
 * vgpio.ko in polling mode: an ivshmem-plain device (no doorbell, no
 * server) whose region the host sets up with the bridge's protocol layer,
 * a real 6.1 guest under TCG (x86_64, and arm64 on a Cortex-A57, whose
 * atomics are load/store-exclusive loops where the doorbell test's `max`
 * CPU has LSE atomics), the libgpiod v1.6 tools, sysfs and debugfs.
 * A second ivshmem-plain device without the magic must be left alone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { protocol } from '../../native/index.ts';
import type { GuestArch } from '../../testkit/arch.ts';
import { Guest } from '../../testkit/guest.ts';
import {
  background,
  bdfWithBar2,
  buildGuestModules,
  checkGpiosetOutputs,
  checkLevelRefire,
  checkPendGarbageCleared,
  chipBase,
  chipByLabel,
  EV,
  GPIOD_TOOLS,
  HostRegion,
  kernelTrouble,
  plainDeviceArgs,
  raiseEveryLine,
  until,
  withoutJobReports,
  type GuestModules,
} from '../../testkit/vgpio-host.ts';

const NGPIO = 40; // two banks
const LABEL = 'poll-chip';
const NAMES = Array.from({ length: NGPIO }, (_, i) => (i === 39 ? '' : `line-${i}`));
const OTHER_SIZE = 16384;

const GUESTS: { arch: GuestArch; cpu?: string }[] = [{ arch: 'x86_64' }, { arch: 'aarch64', cpu: 'cortex-a57' }];

for (const { arch, cpu } of GUESTS) describe(`vgpio.ko in polling mode (ivshmem-plain, ${arch}${cpu === undefined ? '' : ` ${cpu}`})`, () => {
  let host: HostRegion;
  let modules: GuestModules;
  let guest: Guest;
  let timer: NodeJS.Timeout;
  /** Cleared while a test wants the shared memory exactly as it left it. */
  let servicing = true;
  let chip = '';
  let base = 0;
  let vgpioBdf = '';
  let otherBdf = '';

  before(async () => {
    host = new HostRegion({ ngpio: NGPIO, label: LABEL, names: NAMES, doorbell: false, hostPeer: protocol.PEER_NONE });
    // Another ivshmem user's memory: no magic, some bytes of its own.
    const otherPath = join(host.dir, 'other');
    const fd = openSync(otherPath, 'w+');
    ftruncateSync(fd, OTHER_SIZE);
    writeSync(fd, Buffer.from('not a vgpio region'), 0, 18, 0);
    closeSync(fd);

    modules = buildGuestModules(undefined, arch);
    guest = await Guest.boot({
      arch,
      cpu,
      binaries: GPIOD_TOOLS,
      files: modules.files,
      qemuArgs: [...plainDeviceArgs('vgpio', host.path, host.mem.size), ...plainDeviceArgs('other', otherPath, OTHER_SIZE)],
    });
    // The bridge's poll timer in polling mode: move queued inputs on, drain the ring.
    timer = setInterval(() => {
      if (servicing) host.service();
    }, 5);
    await guest.exec('insmod /vgpio.ko poll_ms=5');
    chip = await chipByLabel(guest, LABEL);
    base = await chipBase(guest, LABEL);
    vgpioBdf = await bdfWithBar2(guest, host.mem.size);
    otherBdf = await bdfWithBar2(guest, OTHER_SIZE);
  });

  after(async () => {
    clearInterval(timer);
    await guest.close();
    host.close();
    modules.remove();
  });

  it('binds to the vgpio region and reports itself in the header', async () => {
    assert.match(chip, /^gpiochip\d+$/);
    assert.equal((await guest.exec(`basename $(readlink /sys/bus/pci/devices/${vgpioBdf}/driver)`)).trim(), 'vgpio');
    assert.equal(host.region.guestGen & 1, 1, 'guest_gen is odd while bound');
    assert.match(await guest.exec('dmesg'), /poll-chip: 40 lines, polling mode, host peer 0xffffffff/);
  });

  it('leaves an ivshmem device without the magic unbound', async () => {
    const driver = await guest.run(`readlink /sys/bus/pci/devices/${otherBdf}/driver`);
    assert.notEqual(driver.code, 0, `the foreign device is bound: ${driver.output}`);
    assert.match(await guest.exec('dmesg'), /no vgpio region \(magic 0x[0-9a-f]+\): leaving this ivshmem device alone/);
  });

  it('shows the host-set label, line count and names in gpiodetect and gpioinfo', async () => {
    assert.match(await guest.exec('gpiodetect'), new RegExp(`${chip} \\[${LABEL}\\] \\(${NGPIO} lines\\)`));
    const info = await guest.exec(`gpioinfo ${chip}`);
    assert.match(info, new RegExp(`${chip} - ${NGPIO} lines:`));
    assert.match(info, /line\s+0:\s+"line-0"\s+unused\s+input/);
    assert.match(info, /line\s+38:\s+"line-38"\s+unused\s+input/);
    assert.match(info, /line\s+39:\s+unnamed\s+unused\s+input/);
  });

  it('reads host-driven inputs with gpioget in both banks', async () => {
    host.inputs.set(3, 1);
    host.inputs.set(35, 0);
    assert.equal((await guest.exec(`gpioget ${chip} 3 35`)).trim(), '1 0');
    host.inputs.set(3, 0);
    host.inputs.set(35, 1);
    assert.equal((await guest.exec(`gpioget ${chip} 3 35`)).trim(), '0 1');
  });

  it('delivers every host change as exactly one edge event, in order, fast toggles included', async () => {
    const line = 5;
    host.inputs.set(line, 0);
    // 12 rising and falling edges; repeated levels in between must add none.
    const levels: (0 | 1)[] = [1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0];
    const expected = levels.filter((l, i) => l !== (i === 0 ? 0 : levels[i - 1])).map((l) => `${line} ${l}`);
    const monitor = await background(guest, `gpiomon -n ${expected.length} -F '%o %e' ${chip} ${line}`, () => host.lines.state(line).irq.enabled);
    // Half of them slowly, the rest back to back (the host queues behind the pend bit).
    for (const [i, level] of levels.entries()) {
      host.inputs.set(line, level);
      if (i < 6) await new Promise((resolve) => setTimeout(resolve, 60));
    }
    assert.deepEqual((await monitor.output).trim().split('\n'), expected);
    assert.equal(host.inputs.queued(line), 0);
    // Nothing invented afterwards: a fresh monitor sees no event for an unchanged line.
    const quiet = await guest.exec(`gpiomon -F '%o %e' ${chip} ${line} > /tmp/quiet & p=$!; sleep 1; kill $p; wait $p; cat /tmp/quiet`);
    assert.equal(withoutJobReports(quiet).trim(), '');
  });

  it('sees only the requested edge type with --rising-edge and --falling-edge', async () => {
    const line = 6;
    host.inputs.set(line, 0);
    const rising = await background(guest, `gpiomon -r -n 2 -F '%e' ${chip} ${line}`, () => host.lines.state(line).irq.enabled);
    assert.equal(host.lines.state(line).irq.rising && !host.lines.state(line).irq.falling, true);
    for (const level of [1, 0, 1, 0] as const) {
      host.inputs.set(line, level);
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    assert.equal((await rising.output).trim(), '1\n1');

    const falling = await background(guest, `gpiomon -f -n 1 -F '%e' ${chip} ${line}`, () => host.lines.state(line).irq.falling);
    host.inputs.set(line, 1);
    host.inputs.set(line, 0);
    assert.equal((await falling.output).trim(), '0');
  });

  it('posts gpioset output changes to the ring and never touches in', async () => {
    const line = 7;
    await checkGpiosetOutputs(guest, host, chip, line);
    assert.equal(host.dropped, 0);
  });

  it('drives outputs through sysfs', async () => {
    const line = 36;
    const gpio = base + line;
    // A named line is exported under its name.
    const dir = `/sys/class/gpio/${NAMES[line] ?? ''}`;
    const from = host.events.length;
    await guest.exec(`echo ${gpio} > /sys/class/gpio/export`);
    await guest.exec(`echo out > ${dir}/direction`);
    await guest.exec(`echo 1 > ${dir}/value`);
    await guest.exec(`echo 0 > ${dir}/value`);
    await guest.exec(`echo in > ${dir}/direction`);
    await until('sysfs events', () => host.eventsOf(line, from).length >= 4);
    assert.deepEqual(host.eventsOf(line, from), [
      { kind: EV.DIRECTION, value: 1 },
      { kind: EV.OUTPUT, value: 1 },
      { kind: EV.OUTPUT, value: 0 },
      { kind: EV.DIRECTION, value: 0 },
    ]);
    host.inputs.set(line, 1);
    assert.equal((await guest.exec(`cat ${dir}/value`)).trim(), '1');
    await guest.exec(`echo ${gpio} > /sys/class/gpio/unexport`);
  });

  it('sets and reads back outputs in both banks with one call (set_multiple, get_multiple)', async () => {
    // Lines 30..33 straddle the bank boundary; the host drives 1 onto 33's `in`,
    // which an output must not read back.
    const lines = [30, 31, 32, 33];
    host.inputs.set(33, 1);
    const inBefore = host.inWords();
    const from = host.events.length;
    const readBack = await guest.exec(`setlines /dev/${chip} ${lines.join(',')} 1,1,1,0 0,1,0,1`);
    assert.deepEqual(readBack.trim().split('\n'), ['1 1 1 0', '0 1 0 1']);
    await until('the output entries', () => lines.every((l) => host.eventsOf(l, from).length >= (l % 2 === 0 ? 3 : 2)));
    for (const line of lines) {
      const expected = [{ kind: EV.DIRECTION, value: 1 }, { kind: EV.OUTPUT, value: 1 }];
      if (line % 2 === 0) expected.push({ kind: EV.OUTPUT, value: 0 });
      assert.deepEqual(host.eventsOf(line, from), expected, `line ${line}`);
      assert.equal(host.lines.state(line).output, line % 2, `line ${line}`);
    }
    assert.deepEqual(host.inWords(), inBefore, 'the guest never touches in');
  });

  it('shows direction, level and interrupt state truthfully in debugfs', async () => {
    host.inputs.set(3, 1);
    await guest.exec(`gpioset ${chip} 8=1`);
    await guest.exec(`gpiomon -r -n 1 ${chip} 9 > /dev/null & echo $! > /tmp/dbg.pid`);
    await until('monitor on line 9', () => host.lines.state(9).irq.enabled);
    const debug = await guest.exec('cat /sys/kernel/debug/gpio');
    assert.match(debug, /mode=polling/);
    assert.match(debug, /line3\s+line-3\s+in\s+level=1 in=1 out=0 irq=none/);
    assert.match(debug, /line8\s+line-8\s+out\s+level=1 in=0 out=1 irq=none/);
    assert.match(debug, /line9\s+line-9\s+in\s+level=0 in=0 out=0 irq=rising,unmasked consumer=gpiomon/);
    await guest.exec('kill $(cat /tmp/dbg.pid); sleep 0.2');
    assert.match(await guest.exec('cat /sys/kernel/debug/gpio'), /line9\s+line-9\s+in\s+level=0 in=0 out=0 irq=none/);
  });

  for (const trigger of ['high', 'low'] as const) {
    it(`fires a level-${trigger} interrupt and re-fires it on unmask while the level holds`, async () => {
      const line = trigger === 'high' ? 10 : 11;
      await checkLevelRefire(guest, host, line, base + line, trigger);
    });
  }

  it('survives garbage in the irq_raise and ring fields without an oops', async () => {
    const { bankOff, ringOff } = host.region.layout;
    const mem = host.mem;
    servicing = false; // the host's own reader would repair the tail at once
    // Every line pending, including bank 1's bits past ngpio, and a nonsense ring tail.
    for (const bank of [0, 1]) raiseEveryLine(mem, bankOff + bank * protocol.BANK_STRIDE);
    mem.store32(ringOff + protocol.RING_TAIL, 0xdeadbeef);
    await checkPendGarbageCleared(guest, host);

    // A full-looking ring only counts drops; the chip keeps working.
    const droppedBefore = mem.load32(ringOff + protocol.RING_DROPPED);
    await guest.exec(`gpioset ${chip} 12=1`);
    assert.ok(mem.load32(ringOff + protocol.RING_DROPPED) > droppedBefore);
    assert.equal(host.lines.state(12).output, 1);
    mem.store32(ringOff + protocol.RING_TAIL, mem.load32(ringOff + protocol.RING_HEAD));
    servicing = true;
    host.inputs.set(13, 1);
    assert.equal((await guest.exec(`gpioget ${chip} 13`)).trim(), '1');
    assert.deepEqual(kernelTrouble(guest.console.text), []);
  });

  it('unbinds, rebinds and reloads cleanly, moving guest_gen each time', async () => {
    const bound = host.region.guestGen;
    await guest.exec(`echo ${vgpioBdf} > /sys/bus/pci/drivers/vgpio/unbind`);
    assert.equal(host.region.guestGen, bound + 1);
    assert.equal(host.region.guestBound, false);
    // Unbound, BAR0 is free to read: guest_peer must be what IVPosition says.
    const bar0 = BigInt((await guest.exec(`sed -n 1p /sys/bus/pci/devices/${vgpioBdf}/resource`)).split(' ')[0] ?? '0');
    await guest.exec(`echo 1 > /sys/bus/pci/devices/${vgpioBdf}/enable`);
    const ivPosition = BigInt((await guest.exec(`devmem 0x${(bar0 + BigInt(protocol.BAR0_IV_POSITION)).toString(16)} 32`)).trim());
    await guest.exec(`echo 0 > /sys/bus/pci/devices/${vgpioBdf}/enable`);
    assert.equal(BigInt(host.region.guestPeer), ivPosition);
    await guest.exec(`echo ${vgpioBdf} > /sys/bus/pci/drivers/vgpio/bind`);
    assert.equal(host.region.guestGen, bound + 2);
    assert.match(await guest.exec('gpiodetect'), new RegExp(`\\[${LABEL}\\] \\(${NGPIO} lines\\)`));
    // Outputs keep their levels across the rebind.
    assert.equal(host.lines.state(12).output, 1);

    await guest.exec('rmmod vgpio');
    assert.equal(host.region.guestGen, bound + 3);
    assert.doesNotMatch(await guest.exec('gpiodetect'), new RegExp(LABEL));
    await guest.exec('insmod /vgpio.ko poll_ms=5');
    assert.equal(host.region.guestGen, bound + 4);
    host.inputs.set(3, 0);
    assert.match(await guest.exec(`gpiodetect`), new RegExp(`\\[${LABEL}\\]`));
    assert.deepEqual(kernelTrouble(guest.console.text), []);
  });
});
