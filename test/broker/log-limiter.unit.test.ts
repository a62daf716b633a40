/**
 * Unit test of the rate-limited refusal log: 51 refusals of one kind make
 * one line at once and one summary with the other 50 (not 51 lines); kinds
 * are summarised apart; a quiet interval ends the episode so the next
 * refusal is written at once; close() writes what is still counted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimitedLog } from '../../broker/log-limiter.ts';

const INTERVAL = 100;
const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('RateLimitedLog', () => {
  it('writes the first of 51 refusals and then one summary with the other 50', async () => {
    const lines: string[] = [];
    const log = new RateLimitedLog((line) => lines.push(line), INTERVAL);
    for (let i = 1; i <= 51; i += 1) log.report('max_connections', `connection ${i} refused`);
    log.report('origin', 'origin refused');
    assert.deepEqual(lines, ['connection 1 refused', 'origin refused']);
    await wait(INTERVAL * 1.5);
    assert.deepEqual(lines, ['connection 1 refused', 'origin refused', '50 more like this in the last 0.1 s (max_connections); the last: connection 51 refused']);
    // An interval without refusals ends the episode; the next one is written at once.
    await wait(INTERVAL * 2);
    log.report('max_connections', 'connection 52 refused');
    assert.equal(lines.at(-1), 'connection 52 refused');
    assert.equal(lines.length, 4);
    log.close();
  });

  it('writes the uncounted rest on close', () => {
    const lines: string[] = [];
    const log = new RateLimitedLog((line) => lines.push(line), 60_000);
    log.report('host', 'a');
    log.report('host', 'b');
    log.report('host', 'c');
    log.close();
    assert.deepEqual(lines, ['a', '2 more like this (host); the last: c']);
  });
});
