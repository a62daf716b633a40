/**
 * A guest (or anyone with access to the file) that writes what only the
 * host may write, or pulls the file from under the bridge: host-owned
 * words are restored, counted and reported once per episode, a scribbled
 * ring `dropped` counter is not taken at its word, a truncated file fails
 * the chip instead of killing the process with SIGBUS (found by a scan, or
 * met by a command's own accesses), and a file that is
 * not a vgpio region is not overwritten. The chip runs on a real
 * plain-mode shared-memory file; scans are driven by the test.
 */
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { protocol, SharedMemory } from '../../native/index.ts';
import { Chip } from '../../bridge/chip/chip.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import type { ChipConfig } from '../../bridge/settings/types.ts';
import { Logger } from '../../bridge/log.ts';
import { MetricsCollector, type Counters } from '../../bridge/metrics/collect.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';

describe('a hostile guest and a pulled shared-memory file', () => {
  let dir: string;
  let shm: string;
  let config: ChipConfig;
  let chip: Chip;
  let counters: Counters;
  let mem: SharedMemory;
  let guest: FakeGuest;
  let problems: string[];
  let states: string[];
  let availability: boolean[];
  const logs: string[] = [];

  before(() => {
    dir = mkdtempSync('/dev/shm/vgpio-hostile-test-');
    shm = join(dir, 'board.shm');
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      `chips:
  - name: board
    label: lab-board
    mode: plain
    shm: ${shm}
    ngpio: 40
    poll_ms: 60000
    lines:
      - { line: 0, name: button }
      - { line: 1, name: led, direction: output }
`,
    );
    config = loadSettings({ args: ['-c', file], env: {} }).chips[0] ?? assert.fail('no chip');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    rmSync(shm, { force: true });
    chip = await Chip.open(config, new Logger('error', 'chip', (line) => logs.push(line)));
    const collector = new MetricsCollector();
    collector.chip(chip);
    counters = collector.counters;
    mem = SharedMemory.open(shm);
    guest = new FakeGuest(mem);
    problems = [];
    states = [];
    availability = [];
    chip.on('problem', (message) => problems.push(message));
    chip.on('state', (line, level) => states.push(`${line.name}=${level}`));
    chip.on('availability', (online) => availability.push(online));
    chip.start();
    guest.bind();
    chip.scan();
    states.length = 0;
  });
  afterEach(async () => {
    await chip.close();
    mem.close();
  });

  const inWord = (bank: number): number => mem.load32(guest.bankOff + bank * protocol.BANK_STRIDE + protocol.BANK_IN);

  it('restores host-owned `in` words a guest wrote, publishes nothing from them, and reports the episode once', () => {
    const button = chip.line('button') ?? assert.fail();
    const on = chip.command(button, { target: { kind: 'level', level: 1 }, pulseMs: null });
    assert.ok(on.ok);
    states.length = 0;
    for (let i = 0; i < 3; i++) {
      mem.store32(guest.bankOff + protocol.BANK_IN, 0xffffffff);
      mem.store32(guest.bankOff + protocol.BANK_STRIDE + protocol.BANK_IN, 0x5a5a5a5a);
      chip.scan();
      assert.equal(inWord(0), 1, 'bank 0 back to what the host drives: line 0 only');
      assert.equal(inWord(1), 0);
    }
    assert.deepEqual(states, [], 'no line was published ON from the guest\'s scribble');
    assert.equal(counters.total('headerOverwritten', 'board'), 6, 'every restore counted');
    assert.equal(problems.length, 1, 'one report for the episode');
    assert.match(problems[0] ?? '', /host-owned words were overwritten by the guest \(in of bank 0=0xffffffff, in of bank 1=0x5a5a5a5a\); restored/);
    chip.scan();
    mem.store32(guest.bankOff + protocol.BANK_IN, 0);
    chip.scan();
    assert.equal(inWord(0), 1);
    assert.equal(problems.length, 2, 'a new episode after a clean check is reported again');
  });

  it('restores host_gen a guest wrote, and reports it', () => {
    const hostGen = mem.load32(protocol.HDR_HOST_GEN);
    assert.notEqual(hostGen, 0, 'the host bumped it at open');
    mem.store32(protocol.HDR_HOST_GEN, hostGen + 7);
    chip.scan(false);
    assert.equal(mem.load32(protocol.HDR_HOST_GEN), hostGen, 'restored by a doorbell scan too');
    assert.equal(counters.total('headerOverwritten', 'board'), 1);
    assert.match(problems.join('\n'), new RegExp(`host-owned words were overwritten by the guest \\(header 0x10=0x${(hostGen + 7).toString(16)}\\); restored`));
  });

  it('restores the label and the names table', () => {
    const label = mem.read(protocol.HDR_LABEL, protocol.LABEL_LEN);
    const namesOff = mem.load32(protocol.HDR_NAMES_OFF);
    const names = mem.read(namesOff, 40 * protocol.NAME_LEN);
    mem.write(protocol.HDR_LABEL, Buffer.from('pwned\0'));
    mem.write(namesOff + protocol.NAME_LEN, Buffer.from('evil\0'));
    chip.scan();
    assert.ok(mem.read(protocol.HDR_LABEL, protocol.LABEL_LEN).equals(label));
    assert.ok(mem.read(namesOff, 40 * protocol.NAME_LEN).equals(names));
    assert.match(problems.join('\n'), /\(label, names\); restored/);
  });

  it('does not count a scribbled ring dropped counter, and resynchronises', () => {
    const ringOff = mem.load32(protocol.HDR_RING_OFF);
    mem.store32(ringOff + protocol.RING_DROPPED, 0xfffffff0);
    chip.scan();
    assert.equal(counters.total('ringDropped', 'board'), 0);
    assert.equal(counters.total('ringResync', 'board'), 1);
    assert.match(problems.join('\n'), /dropped counter jumped by 4294967280/);
    // A real drop still counts.
    mem.store32(ringOff + protocol.RING_DROPPED, 0xfffffff3);
    chip.scan();
    assert.equal(counters.total('ringDropped', 'board'), 3);
  });

  it('fails the chip, logged, instead of dying of SIGBUS when the file is truncated', () => {
    const button = chip.line('button') ?? assert.fail();
    truncateSync(shm, 0);
    chip.scan();
    assert.match(chip.failure ?? '', /truncated to 0 bytes under a 8192-byte mapping/);
    assert.ok(logs.some((l) => / error .*truncated to 0 bytes/.test(l)), 'logged as an error');
    assert.deepEqual(availability.slice(-1), [false]);
    assert.equal(chip.online, false);
    const refused = chip.command(button, { target: { kind: 'toggle' }, pulseMs: null });
    assert.deepEqual(refused.ok ? 'applied' : refused.reason, 'chip_offline');
    chip.scan();
    assert.equal(problems.filter((p) => p.includes('truncated')).length, 1, 'reported once');
  });

  it('refuses a command that meets a truncation no scan has seen yet, instead of dying of SIGBUS', () => {
    const button = chip.line('button') ?? assert.fail();
    chip.scan();
    assert.equal(chip.online, true, 'the file was sound a moment ago');
    truncateSync(shm, 0);
    // The command's own accesses meet the lost pages: the addon's fault guard, not a look at the file, keeps the process alive.
    const refused = chip.command(button, { target: { kind: 'toggle' }, pulseMs: null });
    assert.deepEqual(refused.ok ? 'applied' : [refused.reason, refused.error], ['chip_offline', `chip board failed: ${chip.failure ?? ''}`]);
    assert.match(chip.failure ?? '', /truncated to 0 bytes under a 8192-byte mapping/);
    assert.equal(chip.online, false);
    assert.deepEqual(availability.slice(-1), [false]);
    assert.equal(problems.filter((p) => p.includes('truncated')).length, 1, 'reported once');
  });

  it('stops a doorbell scan of a truncated file before it reads anything, even what the kept pages still hold', () => {
    guest.setDirection(1, true, false);
    guest.setOutput(1, 1, false);
    // The header and the banks are in the first page, which the file keeps; the event ring's tail is not.
    truncateSync(shm, 4096);
    chip.scan(false); // as on a doorbell: no look at the file's size
    assert.match(chip.failure ?? '', /truncated to 4096 bytes under a 8192-byte mapping/);
    assert.deepEqual(states, [], 'the guest\'s LED level, read from a file that is no longer whole, was not published');
    assert.deepEqual(availability.slice(-1), [false]);
  });
});

describe('a file at the shared-memory path that is not a vgpio region', () => {
  it('is refused with a clear error and left as it was', async () => {
    const dir = mkdtempSync('/dev/shm/vgpio-foreign-test-');
    try {
      const shm = join(dir, 'board.shm');
      const contents = randomBytes(8192);
      writeFileSync(shm, contents);
      writeFileSync(join(dir, 'config.yaml'), `chips:\n  - { name: board, mode: plain, shm: ${shm}, ngpio: 8 }\n`);
      const config = loadSettings({ args: ['-c', join(dir, 'config.yaml')], env: {} }).chips[0] ?? assert.fail('no chip');
      await assert.rejects(Chip.open(config, new Logger('error')), /board\.shm holds data that is not a vgpio region .*refusing to overwrite it/);
      assert.ok(readFileSync(shm).equals(contents), 'the file is untouched');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
