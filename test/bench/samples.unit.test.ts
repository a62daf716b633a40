/** The benchmark's rounds: every figure sampled in turn, the count kept exactly. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inRounds } from '../../bench/samples.ts';

describe('inRounds', () => {
  it('takes every figure in turn, round after round, and exactly `count` samples of each', async () => {
    const order: string[] = [];
    const sampler = (name: string, value: number) => (n: number): Promise<number[]> => {
      order.push(`${name}${n}`);
      return Promise.resolve(Array.from({ length: n }, () => value));
    };
    const result = await inRounds({ hop: sampler('hop', 1), command: sampler('command', 3) }, 7, 3);
    assert.deepEqual(order, ['hop2', 'command2', 'hop2', 'command2', 'hop3', 'command3'], 'the last round takes the remainder');
    assert.deepEqual(result, { hop: { n: 7, p50: 1, p90: 1, p99: 1 }, command: { n: 7, p50: 3, p90: 3, p99: 3 } });
  });
});
