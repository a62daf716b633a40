/** One timebase for host and guest edges (unit). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toTimeline } from '../../bridge/capture/timebase.ts';

const START = 1_700_000_000_000;
const MS = 1_000_000;

describe('capture timebase', () => {
  it('places host edges at their host time from the start, and ends at the stop time', () => {
    const timeline = toTimeline(
      [
        { signal: 0, level: 1, hostMs: START + 5 },
        { signal: 1, level: 1, hostMs: START + 7 },
        { signal: 0, level: 0, hostMs: START + 7 },
      ],
      START,
      START + 100,
    );
    assert.equal(timeline.originMs, START);
    assert.deepEqual(timeline.changes, [
      { timeNs: 5 * MS, signal: 0, level: 1 },
      { timeNs: 7 * MS, signal: 1, level: 1 },
      { timeNs: 7 * MS, signal: 0, level: 0 },
    ]);
    assert.equal(timeline.endNs, 100 * MS);
    assert.deepEqual(timeline.guestOffsetsNs, []);
  });

  it('keeps the guest\'s spacing to the ns, with the offset of the least delayed edge', () => {
    // The guest's clock reads 9_000_000_000 at START; the bridge stamps each edge 1 to 3 ms later, in whole ms.
    const guestAt = (ns: number): number => 9_000_000_000 + ns;
    const timeline = toTimeline(
      [
        { signal: 0, level: 1, hostMs: START + 13, guestNs: guestAt(10 * MS + 123) },
        { signal: 0, level: 0, hostMs: START + 12, guestNs: guestAt(10 * MS + 777) },
        { signal: 1, level: 1, hostMs: START + 20, guestNs: guestAt(18 * MS + 5) },
        { signal: 2, level: 1, hostMs: START + 11 },
      ],
      START,
      START + 50,
    );
    // host - guest is smallest for the second edge: 12 ms - 10.000777 ms.
    const offset = 12 * MS - (10 * MS + 777) - 9_000_000_000;
    assert.deepEqual(timeline.guestOffsetsNs, [offset]);
    assert.deepEqual(timeline.changes, [
      { timeNs: 11 * MS, signal: 2, level: 1 },
      { timeNs: 12 * MS - 654, signal: 0, level: 1 },
      { timeNs: 12 * MS, signal: 0, level: 0 },
      { timeNs: 12 * MS + (8 * MS - 772), signal: 1, level: 1 },
    ]);
  });

  it('starts a new offset when the guest clock goes back (the guest booted again)', () => {
    const timeline = toTimeline(
      [
        { signal: 0, level: 1, hostMs: START + 10, guestNs: 5_000 * MS },
        { signal: 0, level: 0, hostMs: START + 20, guestNs: 5_010 * MS },
        { signal: 0, level: 1, hostMs: START + 900, guestNs: 3 * MS },
        { signal: 0, level: 0, hostMs: START + 902, guestNs: 5 * MS },
      ],
      START,
      START + 1000,
    );
    assert.deepEqual(timeline.guestOffsetsNs, [10 * MS - 5_000 * MS, 897 * MS]);
    assert.deepEqual(timeline.changes.map((c) => c.timeNs), [10 * MS, 20 * MS, 900 * MS, 902 * MS]);
  });

  it('never puts a line\'s edge before the one that arrived ahead of it on that line', () => {
    const timeline = toTimeline(
      [
        { signal: 0, level: 1, hostMs: START + 10, guestNs: 100 * MS },
        { signal: 1, level: 1, hostMs: START + 30 },
        // The same line, now driven by the host, stamped a ms before the guest edge's estimate.
        { signal: 0, level: 0, hostMs: START + 9 },
      ],
      START,
      START + 40,
    );
    assert.deepEqual(timeline.changes, [
      { timeNs: 10 * MS, signal: 0, level: 1 },
      { timeNs: 10 * MS, signal: 0, level: 0 },
      { timeNs: 30 * MS, signal: 1, level: 1 },
    ]);
  });

  it('moves time 0 back to an edge the bridge stamped before the capture started (its clock is behind)', () => {
    const timeline = toTimeline([{ signal: 0, level: 1, hostMs: START - 4 }, { signal: 0, level: 0, hostMs: START + 1 }], START, START + 10);
    assert.equal(timeline.originMs, START - 4);
    assert.deepEqual(timeline.changes.map((c) => c.timeNs), [0, 5 * MS]);
    assert.equal(timeline.endNs, 14 * MS);
  });
});
