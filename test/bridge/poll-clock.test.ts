/**
 * An idle bridge's wake-ups do not grow with its chips: 64 plain-mode
 * chips (polling is all they have) run their polls on one timer per poll
 * period, not one each, and every chip is still polled.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SharedMemory } from '../../native/index.ts';
import { Chip } from '../../bridge/chip/chip.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Logger } from '../../bridge/log.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
import { until } from '../../testkit/vgpio-host.ts';

const CHIPS = 64;

/** Timers (setTimeout/setInterval) this process has running. */
function timers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

describe(`${CHIPS} polling chips`, () => {
  let dir: string;
  const chips: Chip[] = [];

  before(async () => {
    dir = mkdtempSync('/dev/shm/vgpio-poll-clock-');
    // Two poll periods: the last chip polls at its own rate.
    const list = Array.from({ length: CHIPS }, (_, i) => `  - { name: c${i}, mode: plain, shm: ${dir}/c${i}.shm, ngpio: 32, poll_ms: ${i === CHIPS - 1 ? 30 : 20} }`);
    const file = join(dir, 'config.yaml');
    writeFileSync(file, `chips:\n${list.join('\n')}\n`);
    for (const config of loadSettings({ args: ['-c', file], env: {} }).chips) chips.push(await Chip.open(config, new Logger('error')));
  });
  after(async () => {
    for (const chip of chips) await chip.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('poll on one timer per poll period, and each chip is polled', async (t) => {
    const before = timers();
    for (const chip of chips) chip.start();
    const added = timers() - before;
    t.diagnostic(`timers added by starting ${CHIPS} chips with two poll periods: ${added}`);
    assert.equal(added, 2);

    // Polling still finds what a guest does on any chip, with no doorbell and no explicit scan.
    for (const index of [0, CHIPS - 1]) {
      const mem = SharedMemory.open(join(dir, `c${index}.shm`));
      try {
        const guest = new FakeGuest(mem);
        guest.bind();
        await until(`chip c${index} online`, () => chips[index]?.online === true);
      } finally {
        mem.close();
      }
    }

    for (const chip of chips) await chip.close();
    assert.equal(timers(), before, 'closing the chips stops their timers');
  });
});
