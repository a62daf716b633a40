/**
 * One plain-mode chip on a shared-memory file in a fresh folder under
 * /dev/shm, for tests that drive a chip's scans themselves (a long
 * poll_ms) with a fake guest: the folder lives for the describe() block,
 * the file for one test.
 */
import { after, afterEach, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SharedMemory } from '../../native/index.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import type { ChipConfig } from '../../bridge/settings/types.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';

export interface PlainChip {
  /** The shared-memory file's path. */
  readonly shm: string;
  readonly config: ChipConfig;
  /** The fake guest on the file, once the test's chip has created it (see usePlainChip). */
  readonly guest: FakeGuest;
}

/**
 * Registers the hooks of a describe() block: `open` opens the test's chip
 * or monitor on a fresh file (then the fake guest is mapped) and its
 * result is closed after the test. `options`: more keys of the chip's flow
 * mapping, e.g. `ngpio: 8, queue_limit: 1`.
 */
export function usePlainChip(prefix: string, options: string, open: (config: ChipConfig) => Promise<{ close(): Promise<void> }>): PlainChip {
  let dir = '';
  let config: ChipConfig | undefined;
  let opened: { close(): Promise<void> } | undefined;
  let mem: SharedMemory | undefined;
  let guest: FakeGuest | undefined;
  const shm = (): string => join(dir, 'board.shm');
  before(() => {
    dir = mkdtempSync(`/dev/shm/${prefix}-`);
    const file = join(dir, 'config.yaml');
    writeFileSync(file, `chips:\n  - { name: board, mode: plain, shm: ${shm()}, poll_ms: 60000, ${options} }\n`);
    config = loadSettings({ args: ['-c', file], env: {} }).chips[0] ?? assert.fail('no chip');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    rmSync(shm(), { force: true });
    opened = await open(config ?? assert.fail('no configuration yet'));
    mem = SharedMemory.open(shm());
    guest = new FakeGuest(mem);
  });
  afterEach(async () => {
    await opened?.close();
    mem?.close();
  });
  return {
    get shm() {
      return shm();
    },
    get config() {
      return config ?? assert.fail('no configuration yet');
    },
    get guest() {
      return guest ?? assert.fail('no guest yet');
    },
  };
}
