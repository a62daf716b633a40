/**
 * A scan looks at the lines whose words changed, not at every line of a
 * changed bank: one guest output is one line's state, not 32. A plain-mode
 * chip of 64 lines (two banks) on a real shared-memory file, a fake guest
 * driving outputs, scans driven by the test.
 */
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SharedMemory, protocol } from '../../native/index.ts';
import { Chip } from '../../bridge/chip/chip.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import type { ChipConfig } from '../../bridge/settings/types.ts';
import { Logger } from '../../bridge/log.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';

/** A plain-mode chip of `ngpio` lines on a fresh shared-memory file per test, bound by a fake guest; call inside a describe. */
function boundChip(ngpio: number): { chip: () => Chip; guest: () => FakeGuest } {
  let dir: string;
  let config: ChipConfig;
  let chip: Chip | undefined;
  let mem: SharedMemory | undefined;
  let guest: FakeGuest | undefined;

  before(() => {
    dir = mkdtempSync('/dev/shm/vgpio-scan-test-');
    const file = join(dir, 'config.yaml');
    writeFileSync(file, `chips:\n  - { name: board, mode: plain, shm: ${dir}/board.shm, ngpio: ${ngpio}, poll_ms: 60000 }\n`);
    config = loadSettings({ args: ['-c', file], env: {} }).chips[0] ?? assert.fail('no chip');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    rmSync(join(dir, 'board.shm'), { force: true });
    chip = await Chip.open(config, new Logger('error'));
    mem = SharedMemory.open(join(dir, 'board.shm'));
    guest = new FakeGuest(mem);
    chip.start();
    guest.bind();
  });
  afterEach(async () => {
    await chip?.close();
    mem?.close();
  });
  return { chip: () => chip ?? assert.fail('no chip'), guest: () => guest ?? assert.fail('no guest') };
}

describe('a scan diffs the lines that changed', () => {
  const bound = boundChip(64);
  let chip: Chip;
  let guest: FakeGuest;
  /** Lines the monitor handed to the line layer in the last scan. */
  let diffed: number[];

  beforeEach(() => {
    chip = bound.chip();
    guest = bound.guest();
    for (const line of [5, 40]) guest.setDirection(line, true);
    chip.scan();
    diffed = [];
    chip.monitor.on('level', (line) => diffed.push(line));
  });

  it('one guest output: that line alone, and its state published', () => {
    const states: string[] = [];
    chip.on('state', (line, level) => states.push(`${line.name}=${String(level)}`));
    diffed = [];
    guest.setOutput(5, 1);
    chip.scan();
    assert.deepEqual(diffed, [5]);
    assert.deepEqual(states, ['5=1']);
  });

  it('outputs in both banks: those two lines; nothing when nothing changed', () => {
    diffed = [];
    guest.setOutput(5, 1);
    guest.setOutput(40, 1);
    chip.scan();
    assert.deepEqual(diffed, [5, 40]);
    diffed = [];
    chip.scan();
    assert.deepEqual(diffed, []);
  });
});

/**
 * The guest's driver writes a line's `out` word, then appends the ring
 * entry (with the guest's clock), and direction_output writes `dir` after
 * both. A scan can fall between any two of these writes (a TCG vCPU thread
 * descheduled between them): every edge is still published once, with the
 * guest's timestamp when the ring has it.
 */
describe('a scan between the driver\'s writes', () => {
  const bound = boundChip(8);
  let chip: Chip;
  let guest: FakeGuest;
  let edges: string[];

  beforeEach(() => {
    chip = bound.chip();
    guest = bound.guest();
    chip.scan();
    edges = [];
    chip.on('edge', (edge) => edges.push(`${edge.line.name} ${edge.edge} ${edge.guestNs === undefined ? 'without' : 'with'} guest_ns`));
  });

  it('a line requested as an output at high, scanned after `out` and before `dir`: its rising edge, once, with guest_ns', () => {
    guest.setOutput(3, 1, false);
    chip.scan(); // `out` written, the entry not yet appended, the line still an input
    guest.append(3, protocol.EV_OUTPUT, 1);
    chip.scan();
    guest.setDirection(3, true);
    chip.scan();
    chip.scan();
    assert.deepEqual(edges, ['3 rising with guest_ns']);
  });

  it('an output set, scanned before its ring entry: one edge, with guest_ns', () => {
    guest.setDirection(3, true);
    chip.scan();
    guest.setOutput(3, 1, false);
    chip.scan(); // `out` written, the entry not yet appended
    guest.append(3, protocol.EV_OUTPUT, 1);
    chip.scan();
    chip.scan();
    assert.deepEqual(edges, ['3 rising with guest_ns']);
  });

  it('an output change the ring never reports: published at the next scan, without guest_ns', () => {
    guest.setDirection(3, true);
    chip.scan();
    guest.setOutput(3, 1, false);
    chip.scan();
    assert.deepEqual(edges, []);
    chip.scan();
    assert.deepEqual(edges, ['3 rising without guest_ns']);
  });

  it('a change held when the chip closes is published, not lost', async () => {
    guest.setDirection(3, true);
    chip.scan();
    guest.setOutput(3, 1, false);
    chip.scan();
    await chip.close();
    assert.deepEqual(edges, ['3 rising without guest_ns']);
  });
});
