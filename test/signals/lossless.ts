/** The check the guest signal tests share: what the bridge published reached the guest program edge for edge. */
import assert from 'node:assert/strict';
import type { Seen } from '../../bench/signals.ts';

/** Every published edge reached the guest, and nothing else did, in order. */
export function assertLossless(seen: Seen, what: string): void {
  const detail = `${what}: guest ${JSON.stringify(seen.guest.slice(0, 8))}... bridge ${JSON.stringify(seen.bridge.slice(0, 8))}...`;
  assert.ok(seen.bridge.length > 0, detail);
  assert.equal(seen.guest.length, seen.bridge.length, `as many edges in the guest as published: ${detail}`);
  assert.deepEqual(seen.guest.map((e) => (e.level === 1 ? 'rising' : 'falling')), seen.bridge.map((e) => e.edge), detail);
  const first = seen.guest[0]?.seq ?? 0;
  assert.deepEqual(seen.guest.map((e) => e.seq), seen.guest.map((_, i) => first + i), `line_seqno without a gap: ${detail}`);
}
