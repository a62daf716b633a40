/**
 * ShmMonitor.request, the one entry into shared memory for a change to a
 * host-driven line: every refusal is a typed answer with nothing written,
 * and what each kind of request checks (a command, a waveform's step, a
 * pulse's end) is told apart. A plain-mode chip on a real shared-memory
 * file, a fake guest, scans driven by the test.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { ShmMonitor, type Request } from '../../bridge/chip/monitor.ts';
import { Logger } from '../../bridge/log.ts';
import { usePlainChip } from '../support/plain-chip-file.ts';

const HIGH = (): 1 => 1;
const FLIP = (latest: 0 | 1): 0 | 1 => (latest === 1 ? 0 : 1);

describe('ShmMonitor.request', () => {
  let monitor: ShmMonitor;
  const board = usePlainChip('vgpio-request-test', 'ngpio: 8, queue_limit: 1', async (config) => {
    monitor = await ShmMonitor.open(config, new Logger('error'));
    monitor.start();
    return monitor;
  });
  const ask = (request: Partial<Request>): ReturnType<ShmMonitor['request']> => monitor.request({ line: 3, checks: 'command', level: HIGH, ...request });

  it('a command: offline until a guest binds (checked at the request, not at the next scan), then written once', () => {
    assert.deepEqual(ask({}), { ok: false, refused: 'offline' });
    assert.equal(board.guest.input(3), 0);
    board.guest.bind();
    assert.deepEqual(ask({}), { ok: true, result: 'applied' });
    assert.equal(board.guest.input(3), 1);
    assert.deepEqual(ask({}), { ok: true, result: 'unchanged' });
    assert.deepEqual(ask({ level: FLIP }), { ok: true, result: 'applied' });
    assert.equal(board.guest.input(3), 0);
  });

  it('a line the guest drives: refused to a command and a waveform step, written by a pulse end', () => {
    board.guest.bind();
    board.guest.setDirection(3, true);
    let accepted = 0;
    assert.deepEqual(ask({ accepted: () => (accepted += 1) }), { ok: false, refused: 'guest_output' });
    assert.deepEqual(ask({ checks: 'owned' }), { ok: false, refused: 'guest_output' });
    assert.equal(accepted, 0, 'nothing is accepted before the checks pass');
    assert.equal(board.guest.input(3), 0);
    assert.deepEqual(ask({ checks: 'none', accepted: () => (accepted += 1) }), { ok: true, result: 'applied' });
    assert.equal(accepted, 1);
    assert.equal(board.guest.input(3), 1);
  });

  it('a full queue: overflow, nothing queued; a closed chip: closed', async () => {
    board.guest.bind();
    board.guest.enableIrq(3, { rising: true, falling: true });
    monitor.scan();
    assert.deepEqual(ask({}), { ok: true, result: 'interrupt' });
    assert.deepEqual(ask({ level: FLIP }), { ok: true, result: 'queued' });
    assert.deepEqual(ask({ level: FLIP }), { ok: false, refused: 'overflow' });
    assert.equal(monitor.queued(3), 1);
    await monitor.close();
    assert.deepEqual(ask({}), { ok: false, refused: 'closed' });
  });

  it('a truncated file: failed, and the chip stays failed', () => {
    board.guest.bind();
    truncateSync(board.shm, 0);
    assert.deepEqual(ask({}), { ok: false, refused: 'failed' });
    assert.deepEqual(ask({ checks: 'none' }), { ok: false, refused: 'failed' });
    assert.match(monitor.failure ?? '', /truncated/);
  });
});
