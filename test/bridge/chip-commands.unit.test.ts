/**
 * Bursts of commands that reach a chip before the guest acknowledges any
 * of them. The chip runs on a real plain-mode shared-memory file; a fake
 * guest with both edge interrupts enabled acknowledges only when the test
 * says so, and every change it could see is read from the `in` word as the
 * queue drains. Scans are driven by the test (the poll timer is a minute).
 */
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SharedMemory } from '../../native/index.ts';
import { Chip, type CommandOutcome } from '../../bridge/chip/chip.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import type { ChipConfig, LineConfig } from '../../bridge/settings/types.ts';
import { Logger } from '../../bridge/log.ts';
import { parseCommand } from '../../bridge/mqtt/payload.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';

const QUEUE_LIMIT = 4;

describe('chip commands resolve against the latest requested level', () => {
  let dir: string;
  let config: ChipConfig;
  let chip: Chip;
  let mem: SharedMemory;
  let guest: FakeGuest;
  let hostEdges: string[];

  before(() => {
    dir = mkdtempSync('/dev/shm/vgpio-chip-test-');
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      `chips:
  - name: board
    mode: plain
    shm: ${dir}/board.shm
    ngpio: 64
    poll_ms: 60000
    queue_limit: ${QUEUE_LIMIT}
    lines:
      - { line: 0, name: button }
      - { line: 33, name: relay, inverted: true }
`,
    );
    const settings = loadSettings({ args: ['-c', file], env: {} });
    config = settings.chips[0] ?? assert.fail('no chip');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    rmSync(join(dir, 'board.shm'), { force: true });
    chip = await Chip.open(config, new Logger('error'));
    mem = SharedMemory.open(join(dir, 'board.shm'));
    guest = new FakeGuest(mem);
    hostEdges = [];
    chip.on('edge', (edge) => {
      if (edge.source === 'host') hostEdges.push(`${edge.line.name}:${edge.edge}`);
    });
    chip.start();
    guest.bind();
    for (const n of [0, 33]) guest.enableIrq(n, { rising: true, falling: true });
    chip.scan();
  });
  afterEach(async () => {
    await chip.close();
    mem.close();
  });

  const line = (name: string): LineConfig => chip.line(name) ?? assert.fail(`no line ${name}`);
  const send = (name: string, payload: string): CommandOutcome => {
    const target = line(name);
    const parsed = parseCommand(payload, target);
    assert.ok(parsed.ok, payload);
    return chip.command(target, parsed.value);
  };
  const results = (outcomes: CommandOutcome[]): string[] => outcomes.map((o) => (o.ok ? o.result : o.reason));
  /** Acknowledges until nothing is pending; returns every level the guest was interrupted with, in order. */
  const drain = (n: number): number[] => {
    const seen: number[] = [];
    for (let i = 0; i < 100 && guest.pending(n); i++) {
      seen.push(guest.input(n));
      guest.ack();
      chip.scan();
    }
    assert.equal(guest.pending(n), false, 'the queue drained');
    assert.equal(guest.ackRequested(n), false, 'no acknowledgement asked for once the queue is empty');
    return seen;
  };

  it('three TOGGLEs from OFF deliver [1, 0, 1] and leave the line ON', () => {
    assert.deepEqual(results([send('button', 'TOGGLE'), send('button', 'TOGGLE'), send('button', 'TOGGLE')]), ['interrupt', 'queued', 'queued']);
    assert.equal(chip.status(line('button')).queued, 2);
    assert.deepEqual(drain(0), [1, 0, 1]);
    assert.equal(guest.input(0), 1);
    assert.deepEqual(hostEdges, ['button:rising', 'button:falling', 'button:rising']);
  });

  it('ON / OFF / ON delivers [1, 0, 1]', () => {
    assert.deepEqual(results([send('button', 'ON'), send('button', 'OFF'), send('button', 'ON')]), ['interrupt', 'queued', 'queued']);
    assert.deepEqual(drain(0), [1, 0, 1]);
  });

  it('ON / ON delivers [1]: the second ON is unchanged and queues nothing', () => {
    assert.deepEqual(results([send('button', 'ON'), send('button', 'ON')]), ['interrupt', 'unchanged']);
    assert.equal(chip.status(line('button')).queued, 0);
    assert.equal(guest.ackRequested(0), false, 'nothing waits behind the pending interrupt');
    assert.deepEqual(drain(0), [1]);
    assert.deepEqual(hostEdges, ['button:rising']);
  });

  it('toggles an inverted line against its latest logical level', () => {
    // relay is inverted: electrical 0 is ON; the line starts electrically low (ON).
    assert.deepEqual(results([send('relay', 'TOGGLE'), send('relay', 'TOGGLE'), send('relay', 'TOGGLE')]), ['interrupt', 'queued', 'queued']);
    assert.deepEqual(drain(33), [1, 0, 1], 'electrical levels: OFF, ON, OFF');
    assert.deepEqual(hostEdges, ['relay:falling', 'relay:rising', 'relay:falling']);
  });

  it('a pulse during a queue appends its change and, pulse_ms later, its return', async () => {
    assert.deepEqual(results([send('button', 'ON'), send('button', 'OFF')]), ['interrupt', 'queued']);
    assert.deepEqual(results([send('button', '{"state":"ON","pulse_ms":30}')]), ['queued']);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(chip.status(line('button')).queued, 3, 'the return is a queued change like any other');
    assert.deepEqual(drain(0), [1, 0, 1, 0]);
  });

  it('a pulse to the level the line will already have is unchanged and schedules no return', async () => {
    assert.deepEqual(results([send('button', 'ON'), send('button', '{"state":"ON","pulse_ms":30}')]), ['interrupt', 'unchanged']);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(chip.status(line('button')).queued, 0);
    assert.deepEqual(drain(0), [1]);
  });

  it('a burst past the queue limit: the first change and queue_limit more apply, the rest overflow, toggles stay in step', () => {
    const outcomes = Array.from({ length: QUEUE_LIMIT + 3 }, () => send('button', 'TOGGLE'));
    assert.deepEqual(results(outcomes), ['interrupt', ...Array<string>(QUEUE_LIMIT).fill('queued'), 'queue_overflow', 'queue_overflow']);
    assert.deepEqual(drain(0), [1, 0, 1, 0, 1]);
    assert.deepEqual(results([send('button', 'TOGGLE')]), ['interrupt'], 'after the overflow, TOGGLE flips the level the guest has');
    assert.deepEqual(drain(0), [0]);
  });
});
