/**
 * RecentTrace on its own: it keeps what a chip emits on `edge` (no other
 * path feeds it), answers oldest first with the `.../edge` fields plus the
 * line name, leaves out edges older than RECENT_MS, keeps at most
 * RECENT_EDGES per chip (BridgeApi adds and removes the listener:
 * test/bridge/extension-owned.test.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Chip, EdgeEvent } from '../../bridge/chip/chip.ts';
import type { LineConfig } from '../../bridge/settings/types.ts';
import { RECENT_EDGES, RECENT_MS, RecentTrace } from '../../bridge/extensions/recent-trace.ts';

const lines = [{ line: 0, name: 'button' }, { line: 1, name: 'led' }] as LineConfig[];

/** Only what RecentTrace reads of a chip: its name, its lines and its `edge` events. */
function fakeChip(name: string): Chip {
  const chip = new EventEmitter() as unknown as Chip & { config: unknown };
  (chip as { config: unknown }).config = { name, lines };
  return chip;
}

function edge(line: 0 | 1, seq: number, tsMs: number, guestNs?: number): EdgeEvent {
  const config = lines[line] ?? assert.fail();
  return { line: config, edge: seq % 2 === 0 ? 'rising' : 'falling', source: line === 1 ? 'guest' : 'host', seq, tsMs, ...(guestNs === undefined ? {} : { guestNs }) };
}

describe('RecentTrace', () => {
  it('keeps the edges a chip emits, oldest first, as the edge topic has them', () => {
    let now = 1_000_000;
    const trace = new RecentTrace(() => now);
    const chip = fakeChip('board');
    chip.on('edge', trace.track(chip));
    chip.emit('edge', edge(0, 2, now - 20));
    chip.emit('edge', edge(1, 7, now - 10, 123_456));
    now += 1;
    assert.deepEqual(trace.edges('board'), [
      { line: 'button', edge: 'rising', source: 'host', seq: 2, ts_ms: 999_980 },
      { line: 'led', edge: 'falling', source: 'guest', seq: 7, ts_ms: 999_990, guest_ns: 123_456 },
    ]);
    assert.equal(trace.edges('other'), undefined, 'a chip not followed');
  });

  it(`leaves out edges older than ${RECENT_MS} ms`, () => {
    let now = 50_000;
    const trace = new RecentTrace(() => now);
    const chip = fakeChip('board');
    chip.on('edge', trace.track(chip));
    chip.emit('edge', edge(0, 0, now));
    now += RECENT_MS / 2;
    chip.emit('edge', edge(0, 1, now));
    now += RECENT_MS / 2 + 1;
    assert.deepEqual(trace.edges('board')?.map((e) => e.seq), [1]);
  });

  it(`keeps the last ${RECENT_EDGES} edges per chip`, () => {
    const trace = new RecentTrace(() => 0);
    const chip = fakeChip('board');
    chip.on('edge', trace.track(chip));
    for (let seq = 0; seq < RECENT_EDGES + 10; seq += 1) chip.emit('edge', edge(0, seq, 0));
    const kept = trace.edges('board') ?? [];
    assert.equal(kept.length, RECENT_EDGES);
    assert.equal(kept[0]?.seq, 10);
    assert.equal(kept.at(-1)?.seq, RECENT_EDGES + 9);
  });

  it('holds no ring for a chip until its first edge', () => {
    const trace = new RecentTrace(() => 0);
    const chips = Array.from({ length: 256 }, (_, i) => fakeChip(`c${i}`));
    for (const chip of chips) chip.on('edge', trace.track(chip));
    assert.equal(trace.bytes, 0, 'idle chips');
    assert.deepEqual(trace.edges('c0'), [], 'an idle chip answers no edges');
    chips[3]?.emit('edge', edge(0, 1, 0));
    assert.equal(trace.bytes, RECENT_EDGES * (8 + 8 + 4 + 2 + 1), 'one ring, for the chip that had an edge');
  });
});
