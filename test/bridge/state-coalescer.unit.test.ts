/**
 * StateCoalescer alone: the first state of a turn of the event loop goes at
 * once, later ones in the same turn wait for its end and only each topic's
 * last payload goes (nothing when it is what the topic last got), a replay
 * goes at once, and flush() sends what is held (before the bridge stops).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StateCoalescer } from '../../bridge/extensions/state-coalescer.ts';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function recorder(): { sent: string[]; coalescer: StateCoalescer } {
  const sent: string[] = [];
  const coalescer = new StateCoalescer((topic, payload, retain) => sent.push(`${topic}=${payload}${retain ? ' (retained)' : ''}`));
  return { sent, coalescer };
}

describe('StateCoalescer', () => {
  it('publishes the first state of a turn at once and each topic\'s last one at the turn\'s end', async () => {
    const { sent, coalescer } = recorder();
    coalescer.state('a', 'ON', true);
    assert.deepEqual(sent, ['a=ON (retained)'], 'no wait for a lone change');
    coalescer.state('b', 'ON', false);
    coalescer.state('a', 'OFF', true);
    coalescer.state('b', 'OFF', false);
    coalescer.state('b', 'ON', false);
    assert.equal(sent.length, 1, 'the rest waits for the end of the turn');
    await nextTurn();
    assert.deepEqual(sent, ['a=ON (retained)', 'b=ON', 'a=OFF (retained)']);
    coalescer.state('a', 'ON', true);
    assert.equal(sent.at(-1), 'a=ON (retained)', 'a new turn starts with a state at once');
  });

  it('publishes nothing at the turn\'s end for a topic back at the level it last got', async () => {
    const { sent, coalescer } = recorder();
    coalescer.state('a', 'ON', true);
    coalescer.state('a', 'OFF', true);
    coalescer.state('a', 'ON', true);
    await nextTurn();
    assert.deepEqual(sent, ['a=ON (retained)']);
  });

  it('replays at once and drops what the turn held for that topic', async () => {
    const { sent, coalescer } = recorder();
    coalescer.state('a', 'ON', true);
    coalescer.state('a', 'OFF', true);
    coalescer.replay('a', 'OFF', true);
    await nextTurn();
    assert.deepEqual(sent, ['a=ON (retained)', 'a=OFF (retained)']);
  });

  it('flushes what it holds when asked (the bridge stopping), and nothing twice', async () => {
    const { sent, coalescer } = recorder();
    coalescer.state('a', 'ON', true);
    coalescer.state('a', 'OFF', true);
    coalescer.flush();
    assert.deepEqual(sent, ['a=ON (retained)', 'a=OFF (retained)']);
    await nextTurn();
    assert.equal(sent.length, 2);
  });
});
