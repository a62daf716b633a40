/**
 * Generated waveforms and wires in one real TCG guest (bench/signals.ts's
 * rig: a bridge with two server-mode chips in one x86_64 guest, a wire
 * from chip A's output to chip B's input). A 10 Hz and a 100 Hz square
 * wave commanded on `.../set` reach a uAPI v2 program in the guest edge
 * for edge (none lost, none extra, in order: the kernel's line_seqno has
 * no gap and the levels are the bridge's published edges); a bounce gives
 * exactly its 2N+1 edges; `gpioset` on A's output is seen on B's input
 * exactly once per change. Period errors and wire latency are printed
 * (t.diagnostic), not asserted: `npm run bench:signals` records them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CHIP_A, SignalsRig, spread, squareWave, wireToggles } from '../../bench/signals.ts';
import { assertLossless } from './lossless.ts';

const ms = (n: number): string => `${n.toFixed(3)} ms`;

describe('generated waveforms and wires in a TCG guest', () => {
  let rig: SignalsRig;
  before(async () => {
    rig = await SignalsRig.start();
  });
  after(async () => {
    await rig.close();
  });

  for (const [hz, seconds] of [[10, 2], [100, 2]] as const) {
    it(`carries a ${hz} Hz square wave to a guest program edge for edge`, async (t) => {
      const seen = await squareWave(rig, hz, seconds);
      assertLossless(seen, `${hz} Hz`);
      assert.ok(seen.guest.length >= 4, `a wave, not a level: ${seen.guest.length} edges`);
      assert.deepEqual(seen.guest.map((e) => e.level), seen.guest.map((_, i) => (i % 2 === 0 ? 1 : 0)), 'ON, OFF, ON, ... from OFF');
      const percent = (v: number): string => `${((100 * v * hz) / 1000).toFixed(2)}%`;
      const guest = spread(seen.errors);
      const host = spread(seen.hostErrors);
      t.diagnostic(`${hz} Hz: ${seen.guest.length} edges; period error in the guest over ${guest.n} periods: p50 ${ms(guest.p50)} (${percent(guest.p50)}), p99 ${ms(guest.p99)} (${percent(guest.p99)}); as the bridge wrote them: p50 ${ms(host.p50)}, p99 ${ms(host.p99)}`);
    });
  }

  it('gives the guest exactly the configured number of bounce edges', async () => {
    await rig.set(CHIP_A, 'bouncy', 'OFF');
    const seen = await rig.watch('a', 1, CHIP_A, 'bouncy', async () => {
      await rig.set(CHIP_A, 'bouncy', JSON.stringify({ bounce: { pulses: 5, pulse_ms: 2, settle: 'ON' } }));
    });
    assertLossless(seen, 'bounce');
    assert.deepEqual(seen.guest.map((e) => e.level), [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1], '5 dips: 11 edges, settling ON');
  });

  it('stops a waveform at the next command and refuses a malformed one, changing nothing', async () => {
    await rig.set(CHIP_A, 'wave', JSON.stringify({ pwm: { period_ms: 20, duty: 50 } }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await rig.set(CHIP_A, 'wave', 'OFF');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const from = rig.mark;
    const rejected = rig.counter('commandRejected', CHIP_A, 'bad_payload');
    for (const bad of [{ pwm: { period_ms: 0, duty: 50 } }, { pwm: { period_ms: -5, duty: 50 } }, { pwm: { period_ms: 20, duty: 120 } }]) await rig.set(CHIP_A, 'wave', JSON.stringify(bad));
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(rig.edges(CHIP_A, 'wave', from), [], 'stopped by OFF, and nothing from the refused ones');
    assert.equal(rig.counter('commandRejected', CHIP_A, 'bad_payload') - rejected, 3);
  });

  it('carries gpioset on chip A\'s output to chip B\'s input inside the bridge, once per change', async (t) => {
    const toggles = 20;
    const seen = await wireToggles(rig, toggles);
    assertLossless(seen, 'wire');
    assert.deepEqual(seen.guest.map((e) => e.level), Array.from({ length: toggles }, (_, i) => (i % 2 === 0 ? 0 : 1)), 'B follows A: 0, 1, 0, ...');
    assert.ok(seen.bridge.every((e) => e.source === 'host'), 'B\'s edges are host edges (the bridge set the input)');
    const { n, p50, p99 } = spread(seen.latenciesMs);
    t.diagnostic(`wire A output -> B input edge (guest_ns): ${n} edges, p50 ${ms(p50)}, p99 ${ms(p99)}`);
  });
});
