/**
 * A wire across guests: chip A in one x86_64 TCG guest, chip B in another
 * (bench/signals.ts's rig with `guests: 2`, both booted in parallel once
 * for the file), and `wires:` from A's output to B's input in the bridge.
 * `gpioset` on A's output in guest 1 is seen by a uAPI v2 program
 * (edgemon) on B's input in guest 2 exactly once per change, in order.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignalsRig, wireToggles } from '../../bench/signals.ts';
import { assertLossless } from './lossless.ts';

describe('a wire between two TCG guests', () => {
  let rig: SignalsRig;
  let bootS = 0;
  before(async () => {
    const started = performance.now();
    rig = await SignalsRig.start({ guests: 2 });
    bootS = (performance.now() - started) / 1000;
  });
  after(async () => {
    await rig.close();
  });

  it('carries gpioset on chip A\'s output in guest 1 to chip B\'s input in guest 2, once per change', async (t) => {
    assert.notEqual(rig.guests.a, rig.guests.b, 'two guests');
    const toggles = 10;
    const seen = await wireToggles(rig, toggles);
    assertLossless(seen, 'wire across guests');
    assert.deepEqual(seen.guest.map((e) => e.level), Array.from({ length: toggles }, (_, i) => (i % 2 === 0 ? 0 : 1)), 'B follows A: 0, 1, 0, ...');
    assert.ok(seen.bridge.every((e) => e.source === 'host'), 'B\'s edges are host edges (the bridge set the input)');
    t.diagnostic(`two guests booted in parallel in ${bootS.toFixed(1)} s; ${toggles} gpioset changes in guest 1, ${seen.guest.length} edges in guest 2`);
  });
});
