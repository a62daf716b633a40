/** Wires: the net's wired-AND, propagation through fake chips, contention counted, and the configuration's checks (unit). */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Chip, ChipEvents, CommandOutcome } from '../../bridge/chip/chip.ts';
import { ConfigError, loadSettings } from '../../bridge/settings/load.ts';
import type { LineConfig, WireConfig } from '../../bridge/settings/types.ts';
import { Logger } from '../../bridge/log.ts';
import { MetricsCollector } from '../../bridge/metrics/collect.ts';
import type { LineCommand } from '../../bridge/mqtt/payload.ts';
import type { Level } from '../../bridge/shm/line-registers.ts';
import { Net, type Drive } from '../../bridge/signals/net.ts';
import { Wires } from '../../bridge/signals/wires.ts';

describe('net (open drain, pull-up)', () => {
  it('is the wired AND of its drivers; released counts as high; high against low is contention', () => {
    const table: [Drive, Drive, Level, boolean][] = [
      [undefined, undefined, 1, false],
      [undefined, 1, 1, false],
      [undefined, 0, 0, false],
      [1, 1, 1, false],
      [0, 0, 0, false],
      [1, 0, 0, true],
      [0, 1, 0, true],
    ];
    for (const [a, b, level, contention] of table) {
      const net = new Net(2);
      net.drive(0, a);
      assert.deepEqual(net.drive(1, b), { level, contention }, `${String(a)} ${String(b)}`);
    }
  });
});

/** A chip as Wires sees it: its events, its lines' status, and the commands it was given. */
class FakeChip extends EventEmitter<ChipEvents> {
  readonly config: { name: string; lines: LineConfig[] };
  readonly commands: { line: string; level: Level }[] = [];
  readonly levels: Level[];
  failure = undefined;
  online = true;

  constructor(name: string, names: string[]) {
    super();
    this.config = { name, lines: names.map((n, line) => ({ line, name: n, configured: true, direction: 'input', payloadOn: 'ON', payloadOff: 'OFF', inverted: false, retain: true, pulseMs: null, debounceMs: 0 })) };
    this.levels = names.map(() => 0);
  }

  status(line: LineConfig): { level: Level } {
    return { level: this.levels[line.line] ?? 0 };
  }

  command(line: LineConfig, command: LineCommand): CommandOutcome {
    if (!this.online) return { ok: false, reason: 'chip_offline', error: 'offline' };
    assert.ok(command.target.kind === 'level', 'wires set levels, never toggle');
    this.commands.push({ line: line.name, level: command.target.level });
    return { ok: true, result: 'interrupt' };
  }

  /** The guest drives output `line` to `level`. */
  drive(line: number, level: Level): void {
    this.levels[line] = level;
    const config = this.config.lines[line];
    assert.ok(config !== undefined);
    this.emit('edge', { line: config, edge: level === 1 ? 'rising' : 'falling', source: 'guest', seq: 0, tsMs: 0 });
  }

  /** The guest makes `line` an output (or an input again). */
  direction(line: number, direction: 'input' | 'output'): void {
    this.emit('config', { line, name: this.config.lines[line]?.name ?? '', direction, expected: 'input', irq: { enabled: false, rising: false, falling: false, high: false, low: false } });
  }
}

const end = (chip: string, line: number, name: string, direction: 'input' | 'output'): WireConfig['from'] => ({ chip, line, name, direction });

function setUp(wires: WireConfig[]): { a: FakeChip; b: FakeChip; wires: Wires; collector: MetricsCollector; contention: string[][] } {
  const a = new FakeChip('a', ['out1', 'out2']);
  const b = new FakeChip('b', ['in1', 'in2']);
  const chips = new Map([['a', a as unknown as Chip], ['b', b as unknown as Chip]]);
  const running = new Wires(wires, chips, new Logger('error'));
  const collector = new MetricsCollector();
  collector.wires(running);
  const contention: string[][] = [];
  running.on('contention', (net, drivers) => contention.push([net, ...drivers]));
  running.start();
  return { a, b, wires: running, collector, contention };
}

describe('wires', () => {
  it('carries each change of an output to its inputs, once per change, inverted where asked', () => {
    const { a, b, wires } = setUp([
      { from: end('a', 0, 'out1', 'output'), to: [end('b', 0, 'in1', 'input')], inverted: false, delayMs: 0 },
      { from: end('a', 1, 'out2', 'output'), to: [end('b', 1, 'in2', 'input')], inverted: true, delayMs: 0 },
    ]);
    a.direction(0, 'output');
    a.drive(0, 1);
    a.drive(0, 1);
    a.drive(0, 0);
    a.direction(1, 'output');
    a.drive(1, 1);
    assert.deepEqual(b.commands, [
      { line: 'in1', level: 0 },
      { line: 'in1', level: 1 },
      { line: 'in1', level: 0 },
      { line: 'in2', level: 1 },
      { line: 'in2', level: 0 },
    ]);
    wires.stop();
    a.drive(0, 1);
    assert.equal(b.commands.length, 5, 'stopped: nothing more');
  });

  it('resolves two outputs on one input as wired AND, counts contention and reports it', () => {
    const net = end('b', 0, 'in1', 'input');
    const { a, b, collector, contention } = setUp([
      { from: end('a', 0, 'out1', 'output'), to: [net], inverted: false, delayMs: 0 },
      { from: end('a', 1, 'out2', 'output'), to: [net], inverted: false, delayMs: 0 },
    ]);
    a.levels[0] = 1;
    a.levels[1] = 1;
    a.direction(0, 'output');
    a.direction(1, 'output');
    assert.deepEqual(b.commands, [{ line: 'in1', level: 1 }], 'both high: high, set once');
    a.drive(1, 0);
    assert.deepEqual(b.commands.at(-1), { line: 'in1', level: 0 }, 'low wins');
    assert.deepEqual(contention, [['b/in1', 'a/out1=1', 'a/out2=0']]);
    a.drive(0, 0);
    a.drive(0, 1);
    assert.equal(contention.length, 2, 'driven both ways again: counted again');
    a.direction(1, 'input');
    assert.deepEqual(b.commands.at(-1), { line: 'in1', level: 1 }, 'released: the pull-up and the other output say high');
    assert.equal(collector.counters.total('wireContention', 'b/in1'), 2);
  });

  it('delays a change by delay_ms, and sets a net\'s level again when the input chip\'s guest comes online', async () => {
    const { a, b } = setUp([{ from: end('a', 0, 'out1', 'output'), to: [end('b', 0, 'in1', 'input')], inverted: false, delayMs: 30 }]);
    b.online = false;
    a.direction(0, 'output');
    a.drive(0, 1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.deepEqual(b.commands, [], 'refused while the guest is away');
    b.online = true;
    b.emit('availability', true);
    assert.deepEqual(b.commands, [{ line: 'in1', level: 1 }]);
  });
});

describe('wires configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-wires-'));
  after(() => { rmSync(dir, { recursive: true, force: true }); });
  const chips = `chips:
  - { name: a, mode: plain, lines: [{ line: 0, name: led, direction: output }, { line: 1, name: btn }] }
  - { name: b, mode: plain, lines: [{ line: 0, name: out, direction: output }, { line: 1, name: in }] }
`;
  const load = (wires: string): ReturnType<typeof loadSettings> => {
    const path = join(dir, 'c.yaml');
    writeFileSync(path, `${chips}wires:\n${wires}`);
    return loadSettings({ args: ['-c', path], env: {} });
  };
  const problems = (wires: string): string[] => {
    try {
      load(wires);
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error.message.split('\n').slice(1).map((l) => l.trim());
    }
    assert.fail('accepted');
  };

  it('resolves wires by line name or number', () => {
    const s = load('  - { from: a/led, to: [b/in, "a/1"], inverted: true, delay_ms: 5 }\n');
    assert.deepEqual(s.wires, [{ from: end('a', 0, 'led', 'output'), to: [end('b', 1, 'in', 'input'), end('a', 1, 'btn', 'input')], inverted: true, delayMs: 5 }]);
  });

  it('refuses bad wires, naming the wire and what is allowed', () => {
    assert.deepEqual(problems('  - { from: a/led, to: [b/in, b/in] }\n'), ['wires[0].to: got "b/in"; allowed: each line once in a wire, and not its own `from`']);
    assert.deepEqual(problems('  - { from: c/led, to: [b/in] }\n'), ['wires[0].from: got "c/led"; allowed: a configured chip (a, b); no chip "c"']);
    assert.deepEqual(problems('  - { from: a/led, to: [b/nope] }\n'), ['wires[0].to: got "b/nope"; allowed: a line of chip b (a configured name or a number 0..31); no line "nope"']);
    assert.deepEqual(problems('  - { from: a/btn, to: [b/in] }\n'), ['wires[0].from: got "a/btn"; allowed: an output line (direction: output in its chip\'s lines); a/btn is configured as an input']);
    assert.deepEqual(problems('  - { from: a/led, to: [] }\n'), ['wires[0].to: got []; allowed: a non-empty list of <chip>/<line> (a line name or number)']);
    assert.deepEqual(problems('  - { from: a/led, to: [b/in], speed: 3 }\n'), ['wires[0].speed: unknown option; allowed: from, to, inverted, delay_ms']);
  });

  it('refuses a loop, naming its chain', () => {
    const found = problems('  - { from: a/led, to: [b/out] }\n  - { from: b/out, to: [a/led] }\n');
    assert.ok(found.includes('wires: got a loop a/led -> b/out -> a/led; allowed: wires whose chains end (a line is either a wire\'s input or its output)'), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('wires[0].to: got "b/out"; allowed: input lines')), found.join('\n'));
  });
});
