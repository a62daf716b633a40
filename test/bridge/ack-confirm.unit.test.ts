/**
 * When the bridge asks the broker (PINGREQ) whether its PUBACKs arrived:
 * once the PUBACKs pause, or when many are unconfirmed, never right after
 * each command. A broker with Nagle's algorithm on (Mosquitto as Debian
 * ships it) held the next command behind the PINGRESP until the bridge's
 * delayed ACK: every lone command took about 44 ms instead of 0.3 ms
 * (bench section 1, Mosquitto as shipped).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Acknowledger, CONFIRM_BATCH, CONFIRM_QUIET_MS } from '../../bridge/mqtt/acknowledger.ts';
import { CommandJournal } from '../../bridge/mqtt/journal.ts';
import { Logger } from '../../bridge/log.ts';

/** An acknowledger over a fresh journal, counting its PINGREQs; `acked(id)` takes packet `id` and reports its PUBACK sent. */
function rig(): { pings: () => number; acked: (id: number) => void; done: () => void } {
  const path = join(mkdtempSync('/dev/shm/vgpio-ack-'), 'j');
  let pings = 0;
  const acks = new Acknowledger({ journal: new CommandJournal(path), applied: () => undefined }, () => undefined, () => (pings += 1), new Logger('error'));
  return {
    pings: () => pings,
    acked: (id) => {
      acks.take(id, [], () => undefined);
      acks.sentAck(id);
    },
    done: () => {
      acks.close();
      rmSync(dirname(path), { recursive: true, force: true });
    },
  };
}

describe('confirming PUBACKs', () => {
  it('sends no PINGREQ right after a command, and one once the commands pause', async () => {
    const { pings, acked, done } = rig();
    try {
      acked(1);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(pings(), 0, 'no PINGREQ at the end of the turn');
      await sleep(CONFIRM_QUIET_MS / 2);
      acked(2);
      await sleep(CONFIRM_QUIET_MS / 2 + 20);
      assert.equal(pings(), 0, 'a command within the pause puts the PINGREQ off');
      await sleep(CONFIRM_QUIET_MS);
      assert.equal(pings(), 1, 'one PINGREQ once the commands paused');
    } finally {
      done();
    }
  });

  it(`sends one at once when ${CONFIRM_BATCH} PUBACKs are unconfirmed`, () => {
    const { pings, acked, done } = rig();
    try {
      for (let id = 1; id <= CONFIRM_BATCH; id++) acked(id);
      assert.equal(pings(), 1);
    } finally {
      done();
    }
  });
});
