/**
 * The QEMU guest harness, proven on a real TCG guest of each architecture:
 * commands run and report their exit codes, and an ivshmem-plain device
 * backed by a host file shows up as PCI 1af4:1110 whose BAR2 is the host's
 * bytes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, rmSync, writeSync, closeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GUEST_ARCHES } from '../../testkit/arch.ts';
import { Guest } from '../../testkit/guest.ts';

const SHM_SIZE = 1 << 20;

for (const arch of GUEST_ARCHES) describe(`QEMU guest harness (${arch})`, () => {
  let guest: Guest;
  let dir: string;
  let shmPath: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-harness-'));
    shmPath = join(dir, 'shm');
    const fd = openSync(shmPath, 'w+');
    ftruncateSync(fd, SHM_SIZE);
    closeSync(fd);
    guest = await Guest.boot({
      arch,
      qemuArgs: [
        '-object', `memory-backend-file,id=hostmem,size=${SHM_SIZE},mem-path=${shmPath},share=on`,
        '-device', 'ivshmem-plain,memdev=hostmem',
      ],
    });
  });

  after(async () => {
    await guest.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs commands and reports their output and exit code', async () => {
    assert.equal((await guest.exec('uname -r')).trim(), guest.kernel.version);
    assert.equal((await guest.exec('uname -m')).trim(), arch);
    const failing = await guest.run('echo to-stderr >&2; false');
    assert.equal(failing.code, 1);
    assert.match(failing.output, /to-stderr/);
    await assert.rejects(guest.exec('exit_code_42() { return 42; }; exit_code_42'), /exit code 42/);
    // Multi-line commands with quotes, and lines longer than the tty's line buffer.
    assert.equal(await guest.exec("for i in 1 2; do\n  echo \"line $i 'q'\"\ndone"), "line 1 'q'\nline 2 'q'\n");
    const long = 'x'.repeat(6000);
    assert.equal((await guest.exec(`echo ${long} | wc -c`)).trim(), '6001');
  });

  it('keeps its shell when a background job ends while it idles', async () => {
    await guest.exec('sleep 1 &');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.equal((await guest.exec('echo still-here')).trim(), 'still-here');
    assert.doesNotMatch(guest.console.text, /VGPIO-GUEST-SHELL-RESTARTED|Kernel panic/);
  });

  // The ready case (gpiomon, edgemon asleep in poll/read) is every kernel test's monitor start.
  it('refuses a program as waiting for input when it is not running or sleeps elsewhere', async () => {
    await assert.rejects(guest.untilWaitingForInput('no-such-program', 300), /waiting for no-such-program to wait for input: not running/);
    await guest.exec('( sleep 30 > /dev/null 2>&1 & )');
    await assert.rejects(guest.untilWaitingForInput('sleep', 300), /waiting for sleep to wait for input: \d+ in \w*sleep\w*$/);
    await guest.exec('kill $(pidof sleep)');
    await assert.rejects(guest.untilWaitingForInput('a;b'), /not a program name/);
  });

  it('fails a wait with the console log attached', async () => {
    await assert.rejects(guest.console.waitFor(/this text never appears/, 200), (error: Error) => {
      assert.match(error.message, /timed out after 200 ms/);
      assert.match(error.message, /--- console log ---/);
      assert.match(error.message, /VGPIO-GUEST-READY/);
      return true;
    });
  });

  it('shows ivshmem-plain as PCI 1af4:1110 with the host file as BAR2', async () => {
    const devices = await guest.exec(
      'for d in /sys/bus/pci/devices/*; do echo "$(basename $d) $(cat $d/vendor) $(cat $d/device)"; done',
    );
    const line = devices.split('\n').find((l) => l.endsWith(' 0x1af4 0x1110'));
    assert.ok(line, `no 1af4:1110 device in:\n${devices}`);
    const bdf = line.split(' ')[0] ?? '';

    // resource: one "start end flags" line per BAR; BAR2 is the shared memory.
    const resources = (await guest.exec(`cat /sys/bus/pci/devices/${bdf}/resource`)).trim().split('\n');
    const [start, end] = (resources[2] ?? '').split(' ').map((v) => BigInt(v));
    assert.ok(start !== undefined && end !== undefined && start !== 0n, `BAR2 not assigned: ${resources.join('; ')}`);
    assert.equal(end - start + 1n, BigInt(SHM_SIZE));

    // No driver has enabled the device's memory decoding (on x86 the BIOS
    // did, on arm64's virt board nothing does): sysfs enables it.
    await guest.exec(`echo 1 > /sys/bus/pci/devices/${bdf}/enable`);
    // The host writes a pattern into the backing file; the guest reads it from BAR2.
    const fd = openSync(shmPath, 'r+');
    writeSync(fd, Buffer.from([0xa5, 0x5a, 0xc3, 0x3c]), 0, 4, 0x1000);
    closeSync(fd);
    const word = (await guest.exec(`devmem 0x${(start + 0x1000n).toString(16)} 32`)).trim();
    assert.equal(BigInt(word), 0x3cc35aa5n);

    // And a second write is seen too: the guest reads the live memory, not a copy.
    const fd2 = openSync(shmPath, 'r+');
    writeSync(fd2, Buffer.from([0x01]), 0, 1, 0x1000);
    closeSync(fd2);
    assert.equal(BigInt((await guest.exec(`devmem 0x${(start + 0x1000n).toString(16)} 8`)).trim()), 0x01n);
  });
});
