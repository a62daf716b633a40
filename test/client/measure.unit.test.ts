/** measureEdges (client/measure.ts) on edges made up here: which clock it uses and what it reports with too few edges. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { measureEdges, type Edge } from '../../client/index.ts';

const edge = (kind: 'rising' | 'falling', tsMs: number, guestNs?: number): Edge => ({
  chip: 'c',
  line: 'l',
  edge: kind,
  source: 'guest',
  seq: 0,
  tsMs,
  ...(guestNs === undefined ? {} : { guestNs }),
});

describe('measureEdges', () => {
  it('uses the guest clock when every edge has guest_ns', () => {
    const m = measureEdges([edge('rising', 0, 0), edge('falling', 1, 30e6), edge('rising', 2, 100e6), edge('falling', 3, 130e6), edge('rising', 4, 200e6)]);
    assert.deepEqual(m, { edges: 5, rising: 3, falling: 2, periodMs: 100, dutyCycle: 0.3, frequencyHz: 10, clock: 'guest' });
  });

  it('falls back to the host\'s ts_ms when an edge lacks guest_ns', () => {
    const m = measureEdges([edge('rising', 1000, 0), edge('falling', 1020), edge('rising', 1050, 100e6)]);
    assert.equal(m.clock, 'host');
    assert.equal(m.periodMs, 50);
    assert.equal(m.dutyCycle, 0.4);
    assert.equal(measureEdges([edge('rising', 1000, 0), edge('rising', 1010, 100e6)], 'host').periodMs, 10, 'or when asked to');
  });

  it('reports null figures it cannot know', () => {
    assert.deepEqual(measureEdges([]), { edges: 0, rising: 0, falling: 0, periodMs: null, dutyCycle: null, frequencyHz: null, clock: 'host' });
    const fallingOnly = measureEdges([edge('falling', 0), edge('rising', 10), edge('falling', 40)]);
    assert.equal(fallingOnly.periodMs, 40, 'falling to falling with one rising edge');
    assert.equal(fallingOnly.dutyCycle, null, 'no complete rising-to-rising period');
  });
});
