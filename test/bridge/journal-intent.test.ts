/**
 * The journal's intents (unit test of bridge/mqtt/journal.ts and the
 * Acknowledger's start): an intent left by a crash (the bridge killed
 * between a command's shared-memory write and its record as applied) is
 * resolved by the check when the next run opens the journal: applied, its
 * edge is published once when the broker delivers the command again, and
 * the command is not run; not applied, it runs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Acknowledger } from '../../bridge/mqtt/acknowledger.ts';
import { CommandJournal } from '../../bridge/mqtt/journal.ts';
import type { Intent, Published } from '../../bridge/mqtt/link.ts';
import { Logger } from '../../bridge/log.ts';

const EDGE: Published = { topic: 'b/board/3/edge', payload: '{"edge":"rising"}' };
const INTENT: Intent = { chip: 'board', line: 3, level: 1, before: 0 };

/** A journal at a fresh path where the previous run recorded `intent` for packet 7 and was killed. */
function killedAfterIntent(intent: Intent): string {
  const path = join(mkdtempSync('/dev/shm/vgpio-journal-'), 'j');
  const killed = new CommandJournal(path);
  killed.intended(7, intent);
  return path;
}

/** The next run's acknowledger over that journal, with `applied` as its check; what it published. */
function restart(path: string, shows: boolean): { acks: Acknowledger; published: Published[]; checked: Intent[] } {
  const published: Published[] = [];
  const checked: Intent[] = [];
  const acks = new Acknowledger(
    {
      journal: new CommandJournal(path),
      applied: (intent) => {
        checked.push(intent);
        return shows ? EDGE : undefined;
      },
    },
    (edge) => published.push(edge),
    () => undefined,
    new Logger('error'),
  );
  return { acks, published, checked };
}

describe('command journal intents', () => {
  it('an intent the line shows was carried out: the redelivery is acknowledged without running, its edge published once', () => {
    const path = killedAfterIntent(INTENT);
    try {
      const { acks, published, checked } = restart(path, true);
      assert.deepEqual(checked, [INTENT], 'the intent is read back as written');
      assert.equal(acks.repeated(7, true), true, 'a DUP=1 delivery of packet 7 is a repeat');
      let acked = 0;
      acks.repeat(7, () => (acked += 1));
      assert.equal(acked, 1);
      assert.deepEqual(published, [EDGE]);
      acks.close();
      // A second crash before the PUBACK reached the broker: the edge is not published a third time.
      const again = restart(path, true);
      assert.equal(again.acks.repeated(7, true), true);
      again.acks.repeat(7, () => undefined);
      assert.deepEqual(again.published, [], 'already published again once');
      assert.deepEqual(again.checked, [], 'resolved for good');
      again.acks.close();
    } finally {
      rmSync(join(path, '..'), { recursive: true, force: true });
    }
  });

  it('an intent the line does not show: the redelivery runs, and the intent is forgotten', () => {
    const path = killedAfterIntent(INTENT);
    try {
      const { acks, published } = restart(path, false);
      assert.equal(acks.repeated(7, true), false, 'not applied: it runs');
      assert.deepEqual(published, []);
      acks.close();
      assert.deepEqual([...new CommandJournal(path).intents], [], 'the slot was cleared');
    } finally {
      rmSync(join(path, '..'), { recursive: true, force: true });
    }
  });

  it('an intent cut short by the crash, or with a chip name too long for its slot, is not taken for applied', () => {
    const path = killedAfterIntent({ ...INTENT, chip: 'x'.repeat(300) });
    try {
      const long = new CommandJournal(path);
      assert.equal(long.intents.get(7)?.chip, '', 'recorded without the chip: never found');
      long.close();
      // State and length only: the write it announces had not begun.
      const slot = Buffer.alloc(7 * 256 + 3);
      slot[7 * 256] = 3;
      slot.writeUInt16LE(4 + 5, 7 * 256 + 1);
      writeFileSync(path, slot);
      const cut = new CommandJournal(path);
      assert.equal(cut.intents.size, 0);
      cut.close();
    } finally {
      rmSync(join(path, '..'), { recursive: true, force: true });
    }
  });

  it('a record is in the file as soon as it is made, with no close (a kill -9), and a shorter journal of an older run is read and extended', () => {
    const dir = mkdtempSync('/dev/shm/vgpio-journal-');
    const path = join(dir, 'j');
    try {
      // An older run wrote its slots with pwrite(): the file ends after its last slot.
      const json = JSON.stringify(EDGE);
      const old = Buffer.alloc(5 * 256 + 3 + json.length);
      old[5 * 256] = 1;
      old.writeUInt16LE(json.length, 5 * 256 + 1);
      old.write(json, 5 * 256 + 3);
      writeFileSync(path, old, { mode: 0o600 });
      const killed = new CommandJournal(path);
      assert.deepEqual(killed.entries.get(5)?.edge, EDGE, 'the older run\'s slot');
      assert.equal(statSync(path).size, 256 * 0x10000, 'extended to every slot');
      killed.applied(9, EDGE);
      killed.intended(11, INTENT);
      // Not closed: the process died here.
      const next = new CommandJournal(path);
      assert.deepEqual(next.entries.get(9)?.edge, EDGE);
      assert.deepEqual(next.intents.get(11), INTENT);
      assert.deepEqual(next.entries.get(5)?.edge, EDGE);
      next.close();
      killed.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a symlink at the journal\'s path, and leaves its target as it was', () => {
    const dir = mkdtempSync('/dev/shm/vgpio-journal-');
    try {
      writeFileSync(join(dir, 'target'), 'secret');
      symlinkSync(join(dir, 'target'), join(dir, 'j'));
      assert.throws(() => new CommandJournal(join(dir, 'j')), /refusing MQTT command journal .*\/j: it is a symlink, not followed/);
      assert.equal(readFileSync(join(dir, 'target'), 'utf8'), 'secret');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
