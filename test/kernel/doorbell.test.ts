/**
 * vgpio.ko in doorbell mode: the native addon's IvshmemServer owns the
 * region (set up by the bridge's protocol layer) and a real 6.1 guest, x86_64
 * and arm64 (MSI-X through the GICv3 ITS, a weakly ordered CPU) on QEMU 7.2,
 * and x86_64 on QEMU 10.0 too, joins it with ivshmem-doorbell. The host
 * never polls here: it moves queued input changes on and drains the event
 * ring only when the guest rings it, exactly as the bridge does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { protocol } from '../../native/index.ts';
import { archProfile } from '../../testkit/arch.ts';
import { Guest } from '../../testkit/guest.ts';
import { hostLoad } from '../support/host-load.ts';
import { GUEST_BUILDS, machineQemuVersion } from '../../testkit/qemu-builds.ts';
import {
  background,
  bdfWithBar2,
  buildGuestModules,
  checkGpiosetOutputs,
  checkLevelRefire,
  checkPendGarbageCleared,
  chipBase,
  chipByLabel,
  DoorbellHost,
  EV,
  GPIOD_TOOLS,
  kernelTrouble,
  raiseEveryLine,
  until,
  type GuestModules,
  type HostRegion,
} from '../../testkit/vgpio-host.ts';

const NGPIO = 40; // two banks
const LABEL = 'bell-chip';
const NAMES = Array.from({ length: NGPIO }, (_, i) => `bell-${i}`);

for (const { arch, qemu } of GUEST_BUILDS) describe(`vgpio.ko in doorbell mode (ivshmem-doorbell on our IvshmemServer, ${arch}, QEMU ${qemu})`, { timeout: 600_000 }, () => {
  let bell: DoorbellHost;
  let host: HostRegion;
  let modules: GuestModules;
  let guest: Guest;
  let chip = '';
  let base = 0;
  let bdf = '';

  /** The guest's MSI-X vector (its Linux irq number) and how often it fired. */
  async function doorbellIrq(): Promise<{ irq: number; count: number }> {
    const irq = Number((await guest.exec(`ls /sys/bus/pci/devices/${bdf}/msi_irqs`)).trim());
    const line = (await guest.exec(`grep '^ *${irq}:' /proc/interrupts`)).trim();
    const [, count] = line.split(/\s+/);
    return { irq, count: Number(count) };
  }

  before(async () => {
    bell = await DoorbellHost.listen({ ngpio: NGPIO, label: LABEL, names: NAMES });
    host = bell.region;
    modules = buildGuestModules(undefined, arch);
    guest = await Guest.boot({ arch, qemu, binaries: GPIOD_TOOLS, files: modules.files, qemuArgs: bell.qemuArgs });
    await bell.joined;
    // gpiolib-cdev reports events it had to drop (consumer FIFO full) only as pr_debug.
    await guest.exec("echo 'file drivers/gpio/gpiolib-cdev.c +p' > /sys/kernel/debug/dynamic_debug/control");
    await guest.exec('insmod /vgpio.ko');
    chip = await chipByLabel(guest, LABEL);
    base = await chipBase(guest, LABEL);
    bdf = await bdfWithBar2(guest, bell.server.shm.size);
  });

  after(async () => {
    await guest.close();
    await bell.close();
    modules.remove();
  });

  it('binds in doorbell mode with MSI-X and bus mastering, and reports the guest peer id', async () => {
    if (arch === 'x86_64') assert.equal(await machineQemuVersion(guest), qemu, 'the guest runs on the QEMU its title names');
    assert.match(chip, /^gpiochip\d+$/);
    assert.match(await guest.exec('dmesg'), /bell-chip: 40 lines, doorbell mode, host peer 0x0\b/);
    assert.equal(host.region.guestGen & 1, 1, 'guest_gen is odd while bound');
    assert.equal(host.region.guestPeer, bell.guestPeer?.id);
    assert.ok(bell.rings > 0, 'the probe rang the host');
    // PCI command register bit 2: bus master.
    const command = parseInt((await guest.exec(`od -An -tx2 -j4 -N2 /sys/bus/pci/devices/${bdf}/config`)).trim(), 16);
    assert.equal(command & 0x4, 0x4, `bus mastering is off (command ${command.toString(16)})`);
    const { irq } = await doorbellIrq();
    assert.ok(irq > 0, 'one MSI-X vector is allocated');
    assert.equal((await guest.exec(`cat /sys/bus/pci/devices/${bdf}/msi_irqs/${irq}`)).trim(), 'msix');
    assert.match(await guest.exec(`grep '^ *${irq}:' /proc/interrupts`), new RegExp(`${archProfile(arch).msiChip}.*\\s0000:`));
    assert.match(await guest.exec('gpiodetect'), new RegExp(`${chip} \\[${LABEL}\\] \\(${NGPIO} lines\\)`));
    assert.match(await guest.exec(`gpioinfo ${chip}`), /line\s+39:\s+"bell-39"\s+unused\s+input/);
  });

  it('delivers 200 back-to-back host toggles as exactly 200 events, in order, through ack_req rings', async () => {
    const line = 5;
    host.inputs.set(line, 0);
    // 200 edges; a repeated level after every tenth change must add none.
    const levels: (0 | 1)[] = [];
    for (let i = 0; i < 200; i++) {
      const level = i % 2 === 0 ? 1 : 0;
      levels.push(level);
      if (i % 10 === 0) levels.push(level);
    }
    const edges = levels.filter((l, i) => l !== (i === 0 ? 0 : levels[i - 1]));
    assert.equal(edges.length, 200);
    const before = await doorbellIrq();
    const ringsBefore = bell.rings;
    const from = host.events.length;
    // edgemon, not gpiomon: libgpiod 1.6 speaks uAPI v1, whose 16-event kernel
    // buffer overflows in gpiolib-cdev when the reader lags a long burst.
    // Watched without blocking the guest shell, so a shortfall fails with the
    // state of both sides instead of wedging the guest.
    // In a subshell that exits at once: see background() in vgpio-host.ts.
    await guest.exec(`( edgemon /dev/${chip} ${line} ${edges.length} > /tmp/edges 2>&1 & )`);
    await until('edgemon to request the line', () => host.lines.state(line).irq.enabled);
    await guest.untilWaitingForInput('edgemon');
    // Under load: a busy loop beside the guest, as on a busy CI machine.
    const load = hostLoad();
    const count = async (): Promise<number> => Number((await guest.exec('wc -l < /tmp/edges')).trim());
    try {
      for (const level of levels) assert.notEqual(host.inputs.set(line, level), 'overflow');
      await until('200 events', async () => (await count()) >= edges.length, 60_000);
    } catch (error) {
      const state = host.lines.state(line);
      const debug = await guest.exec(`grep 'line${line} ' /sys/kernel/debug/gpio; tail -3 /tmp/edges`);
      // A monitor left waiting would hold the line through the tests that follow (unbind waits for it).
      await guest.run('kill $(pidof edgemon)');
      throw new Error(
        `${String(error)}: edgemon has ${await count()} events; host: queued ${host.inputs.queued(line)}, pend ${state.pending}, ack_req ${state.ackRequested}, ` +
          `irq_en ${state.irq.enabled}, in ${state.input}, kind-4 entries ${host.eventsOf(line, from).filter((e) => e.kind === EV.INPUT_EDGE).length}, rings ${bell.rings - ringsBefore}; guest: ${debug}`,
      );
    } finally {
      load.stop();
    }
    assert.deepEqual((await guest.exec('cat /tmp/edges')).trim().split('\n'), edges.map((l, i) => `${i + 1} ${l}`));
    assert.doesNotMatch(await guest.exec('dmesg'), /event FIFO is full/);
    await until('the queue to drain', () => host.inputs.queued(line) === 0);
    const afterIrq = await doorbellIrq();
    assert.equal(afterIrq.irq, before.irq);
    // Rings coalesce (and an unmask dispatches a pend bit it finds at once), so not one interrupt per edge.
    assert.ok(afterIrq.count > before.count, 'the doorbell vector fired');
    // Every queued change was moved on by a guest ring (ack_req), never by a host timer.
    assert.ok(bell.rings - ringsBefore >= 199, `${bell.rings - ringsBefore} guest rings`);
    // The guest posted one input-edge entry per delivered event, in order.
    await until('200 input-edge entries', () => host.eventsOf(line, from).filter((e) => e.kind === EV.INPUT_EDGE).length >= 200);
    assert.deepEqual(host.eventsOf(line, from).filter((e) => e.kind === EV.INPUT_EDGE).map((e) => e.value), edges);
    // Nothing invented afterwards, and a same-level write is no edge.
    assert.equal(host.inputs.set(line, levels.at(-1) ?? 0), 'unchanged');
    const quiet = await guest.exec(`gpiomon -F '%o %e' ${chip} ${line} > /tmp/quiet & p=$!; sleep 1; kill $p; wait $p; cat /tmp/quiet`);
    assert.equal(quiet.split('\n').filter((l) => /^\d+ [01]$/.test(l)).length, 0, quiet);
  });

  it('gives gpiomon one event per change for a back-to-back burst that fits its buffer', async () => {
    const line = 4;
    host.inputs.set(line, 0);
    const levels: (0 | 1)[] = [1, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0];
    const expected = levels.filter((l, i) => l !== (i === 0 ? 0 : levels[i - 1])).map((l) => `${line} ${l}`);
    const monitor = await background(guest, `gpiomon -n ${expected.length} -F '%o %e' ${chip} ${line}`, () => host.lines.state(line).irq.enabled);
    for (const level of levels) host.inputs.set(line, level);
    assert.deepEqual((await monitor.output).trim().split('\n'), expected);
  });

  it('sees only the requested edge type with --rising-edge and --falling-edge', async () => {
    const line = 6;
    host.inputs.set(line, 0);
    const rising = await background(guest, `gpiomon -r -n 3 -F '%e' ${chip} ${line}`, () => host.lines.state(line).irq.enabled);
    for (const level of [1, 0, 1, 0, 1, 0] as const) host.inputs.set(line, level);
    assert.equal((await rising.output).trim(), '1\n1\n1');
    const falling = await background(guest, `gpiomon -f -n 2 -F '%e' ${chip} ${line}`, () => host.lines.state(line).irq.enabled);
    for (const level of [1, 0, 1, 0] as const) host.inputs.set(line, level);
    assert.equal((await falling.output).trim(), '0\n0');
  });

  for (const trigger of ['high', 'low'] as const) {
    it(`fires a level-${trigger} interrupt and re-fires it on unmask while the level holds`, async () => {
      const line = trigger === 'high' ? 10 : 11;
      await checkLevelRefire(guest, host, line, base + line, trigger);
    });
  }

  it('rings the host for gpioset and sysfs outputs, which it finds in the ring', async () => {
    const line = 7;
    let ringsBefore = bell.rings;
    await checkGpiosetOutputs(guest, host, chip, line);
    assert.ok(bell.rings > ringsBefore, 'the guest rang the host');

    const sysLine = 36;
    const sysDir = `/sys/class/gpio/${NAMES[sysLine] ?? ''}`;
    const from = host.events.length;
    ringsBefore = bell.rings;
    await guest.exec(`echo ${base + sysLine} > /sys/class/gpio/export`);
    await guest.exec(`echo out > ${sysDir}/direction; echo 1 > ${sysDir}/value`);
    await until('sysfs entries', () => host.eventsOf(sysLine, from).length >= 2);
    assert.deepEqual(host.eventsOf(sysLine, from), [
      { kind: EV.DIRECTION, value: 1 },
      { kind: EV.OUTPUT, value: 1 },
    ]);
    assert.equal(host.lines.state(sysLine).output, 1);
    assert.ok(bell.rings > ringsBefore);
    await guest.exec(`echo ${base + sysLine} > /sys/class/gpio/unexport`);
    assert.equal(host.dropped, 0);
  });

  it('survives garbage in the irq_raise, ack_req and ring fields without an oops', async () => {
    const { bankOff, ringOff } = host.region.layout;
    const mem = bell.server.shm;
    bell.servicing = false; // the host's own reader would repair the tail at once
    for (const bank of [0, 1]) {
      raiseEveryLine(mem, bankOff + bank * protocol.BANK_STRIDE);
      mem.store32(bankOff + bank * protocol.BANK_STRIDE + protocol.BANK_ACK_REQ, 0xffffffff);
    }
    mem.store32(ringOff + protocol.RING_TAIL, 0xdeadbeef);
    const ringsBefore = bell.rings;
    // A storm of doorbells on top.
    for (let i = 0; i < 100; i++) bell.ringGuest();
    await checkPendGarbageCleared(guest, host);
    assert.ok(bell.rings > ringsBefore, 'acking under ack_req rang the host');
    for (const bank of [0, 1]) mem.store32(bankOff + bank * protocol.BANK_STRIDE + protocol.BANK_ACK_REQ, 0);

    // A full-looking ring only counts drops; the chip keeps working.
    const droppedBefore = mem.load32(ringOff + protocol.RING_DROPPED);
    await guest.exec(`gpioset ${chip} 12=1`);
    assert.ok(mem.load32(ringOff + protocol.RING_DROPPED) > droppedBefore);
    assert.equal(host.lines.state(12).output, 1);
    mem.store32(ringOff + protocol.RING_TAIL, mem.load32(ringOff + protocol.RING_HEAD));
    bell.servicing = true;
    const line = 13;
    host.inputs.set(line, 0);
    const monitor = await background(guest, `gpiomon -n 2 -F '%e' ${chip} ${line}`, () => host.lines.state(line).irq.enabled);
    host.inputs.set(line, 1);
    host.inputs.set(line, 0);
    assert.equal((await monitor.output).trim(), '1\n0');
    assert.deepEqual(kernelTrouble(guest.console.text), []);
    assert.deepEqual(kernelTrouble(await guest.exec('dmesg')), []);
  });

  it('unbinds, rebinds and reloads with working doorbells, moving guest_gen each time', async () => {
    const bound = host.region.guestGen;
    let ringsBefore = bell.rings;
    await guest.exec(`echo ${bdf} > /sys/bus/pci/drivers/vgpio/unbind`);
    assert.equal(host.region.guestGen, bound + 1);
    await until('the unbind ring', () => bell.rings > ringsBefore);
    const msi = await guest.run(`ls /sys/bus/pci/devices/${bdf}/msi_irqs 2>/dev/null`);
    assert.ok(msi.code !== 0 || msi.output.trim() === '', `MSI-X still enabled after unbind: ${msi.output}`);

    ringsBefore = bell.rings;
    await guest.exec(`echo ${bdf} > /sys/bus/pci/drivers/vgpio/bind`);
    assert.equal(host.region.guestGen, bound + 2);
    assert.equal(host.region.guestPeer, bell.guestPeer?.id);
    await until('the bind ring', () => bell.rings > ringsBefore);
    const edge = async (line: number): Promise<void> => {
      host.inputs.set(line, 0);
      const irqBefore = await doorbellIrq();
      const monitor = await background(guest, `gpiomon -n 3 -F '%e' ${chip} ${line}`, () => host.lines.state(line).irq.enabled);
      for (const level of [1, 0, 1] as const) host.inputs.set(line, level);
      assert.equal((await monitor.output).trim(), '1\n0\n1');
      assert.ok((await doorbellIrq()).count > irqBefore.count, 'the edges came through the doorbell vector');
    };
    chip = await chipByLabel(guest, LABEL);
    await edge(14);

    await guest.exec('rmmod vgpio');
    assert.equal(host.region.guestGen, bound + 3);
    await guest.exec('insmod /vgpio.ko');
    assert.equal(host.region.guestGen, bound + 4);
    chip = await chipByLabel(guest, LABEL);
    await edge(15);
    assert.deepEqual(kernelTrouble(await guest.exec('dmesg')), []);
  });
});
