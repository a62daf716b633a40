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
import { SharedMemory } from '../../native/index.ts';
import { Chip } from '../../bridge/chip/chip.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import type { ChipConfig } from '../../bridge/settings/types.ts';
import { Logger } from '../../bridge/log.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';

describe('a scan diffs the lines that changed', () => {
  let dir: string;
  let config: ChipConfig;
  let chip: Chip;
  let mem: SharedMemory;
  let guest: FakeGuest;
  /** Lines the monitor handed to the line layer in the last scan. */
  let diffed: number[];

  before(() => {
    dir = mkdtempSync('/dev/shm/vgpio-scan-test-');
    const file = join(dir, 'config.yaml');
    writeFileSync(file, `chips:\n  - { name: board, mode: plain, shm: ${dir}/board.shm, ngpio: 64, poll_ms: 60000 }\n`);
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
    chip.monitor.on('level', (line) => diffed.push(line));
    diffed = [];
    chip.start();
    guest.bind();
    for (const line of [5, 40]) guest.setDirection(line, true);
    diffed = [];
    chip.scan();
  });
  afterEach(async () => {
    await chip.close();
    mem.close();
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
