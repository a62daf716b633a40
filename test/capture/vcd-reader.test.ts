/** The VCD reader of `vgpio2mqtt play` (unit), on our own writer's files and on files sigrok-cli wrote. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readVcd } from '../../bridge/capture/vcd-reader.ts';
import { toVcd } from '../../bridge/capture/vcd.ts';
import { sigrokRead } from '../support/vcd-readers.ts';

const header = (timescale: string, vars: string): string => `$timescale ${timescale} $end\n$scope module top $end\n${vars}\n$upscope $end\n$enddefinitions $end\n`;

describe('VCD reader', () => {
  it('reads back what capture writes: names, initial levels, changes in order, the end time', () => {
    const text = toVcd(
      [{ name: 'led', initial: 0 }, { name: 'button', initial: 1 }, { name: 'irq' }],
      [
        { timeNs: 1500, signal: 0, level: 1 },
        { timeNs: 1500, signal: 1, level: 0 },
        { timeNs: 2000, signal: 2, level: 1 },
      ],
      { scope: 'chip0', endNs: 5000 },
    );
    const trace = readVcd(text);
    assert.deepEqual(trace.signals, [
      { name: 'led', path: 'chip0.led', initial: 0 },
      { name: 'button', path: 'chip0.button', initial: 1 },
      { name: 'irq', path: 'chip0.irq', initial: 'x' },
    ]);
    assert.deepEqual(trace.changes, [
      { timeNs: 1500, signal: 0, level: 1 },
      { timeNs: 1500, signal: 1, level: 0 },
      { timeNs: 2000, signal: 2, level: 1 },
    ]);
    assert.equal(trace.endNs, 5000);
  });

  it('reads a change at #0 after the initial level as a change (capture moves time 0 back to its first edge)', () => {
    const text = toVcd([{ name: 'tx', initial: 0 }], [{ timeNs: 0, signal: 0, level: 1 }, { timeNs: 5, signal: 0, level: 0 }], { endNs: 10 });
    const trace = readVcd(text);
    assert.equal(trace.signals[0]?.initial, 0);
    assert.deepEqual(trace.changes, [
      { timeNs: 0, signal: 0, level: 1 },
      { timeNs: 5, signal: 0, level: 0 },
    ]);
  });

  it('scales times by the timescale, from s to fs', () => {
    const times = (timescale: string): number[] => readVcd(`${header(timescale, '$var wire 1 ! a $end')}#0\n0!\n#3\n1!\n#7\n0!\n`).changes.map((c) => c.timeNs);
    assert.deepEqual(times('1 ns'), [3, 7]);
    assert.deepEqual(times('10ns'), [30, 70]);
    assert.deepEqual(times('100 us'), [300_000, 700_000]);
    assert.deepEqual(times('1 ms'), [3e6, 7e6]);
    assert.deepEqual(times('1 s'), [3e9, 7e9]);
    assert.deepEqual(times('100 ps'), [0.3, 0.7]);
    assert.deepEqual(times('1 fs'), [3e-6, 7e-6]);
  });

  it('names signals by their scopes, leaves out changes to the level a signal has, reads x and z as unknown', () => {
    const text = `$timescale 1 ns $end\n$scope module a $end\n$scope module b $end\n$var wire 1 ! sda $end\n$upscope $end\n$var reg 1 " scl $end\n$upscope $end\n$enddefinitions $end\n#0\n$dumpvars\nx!\n1"\n$end\n#5\n1!\n#6\n1!\n#8\nz!\n0"\n`;
    const trace = readVcd(text);
    assert.deepEqual(trace.signals.map((s) => [s.path, s.initial]), [['a.b.sda', 'x'], ['a.scl', 1]]);
    assert.deepEqual(trace.changes, [
      { timeNs: 5, signal: 0, level: 1 },
      { timeNs: 8, signal: 0, level: 'x' },
      { timeNs: 8, signal: 1, level: 0 },
    ]);
  });

  it('reads a file sigrok-cli wrote from a device (its demo logic analyzer) as sigrok reads it back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-vcd-reader-'));
    try {
      const file = join(dir, 'demo.vcd');
      execFileSync('sigrok-cli', ['-d', 'demo', '--channels', 'D0,D1,D2', '--config', 'samplerate=1k', '--samples', '200', '-O', 'vcd', '-o', file], { stdio: 'pipe' });
      const text = readFileSync(file, 'utf8');
      assert.match(text, /\$timescale 1 ms \$end/);
      const trace = readVcd(text);
      const sigrok = sigrokRead(file);
      assert.deepEqual(trace.signals.map((s) => s.name), sigrok.names);
      assert.deepEqual(trace.signals.map((s) => s.initial), sigrok.initial);
      // sigrok's steps: the changes of one time, in channel order.
      const steps: string[][] = [];
      let last = -1;
      for (const change of trace.changes) {
        if (change.timeNs !== last) steps.push([]);
        last = change.timeNs;
        steps[steps.length - 1]?.push(`${trace.signals[change.signal]?.name ?? ''}=${change.level}`);
      }
      assert.ok(steps.length > 10, `the demo device changed its lines (${steps.length} steps)`);
      assert.deepEqual(steps, sigrok.steps);
      assert.ok(trace.changes.every((c) => Number.isInteger(c.timeNs / 1e6)), 'times are whole milliseconds');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what it cannot play, saying why', () => {
    const cases: [string, RegExp][] = [
      ['', /is not a VCD file: it does not start with a \$ declaration/],
      ['time,a\n0,1\n', /is not a VCD file: it does not start with a \$ declaration/],
      ['$date today $end\nhello\n', /"hello" before \$enddefinitions; this is not a VCD file/],
      ['$timescale 1 ns $end\n$var wire 1 ! a $end\n', /is not a VCD file: it has no \$enddefinitions/],
      [header('1 ns', '$var wire 1 ! a $end').replace('$timescale 1 ns $end\n', ''), /has no \$timescale before \$enddefinitions/],
      [header('5 ns', '$var wire 1 ! a $end'), /timescale "5 ns" is not supported; a VCD timescale is 1, 10 or 100 of s, ms, us, ns, ps or fs/],
      [header('1 min', '$var wire 1 ! a $end'), /timescale "1 min" is not supported/],
      [header('1 ns', '$var wire 8 ! bus $end'), /signal top\.bus is a 8-bit vector; only one-bit signals can be played/],
      [header('1 ns', '$var real 64 ! v $end'), /signal top\.v is a real variable/],
      [header('1 ns', ''), /declares no signals/],
      [`${header('1 ns', '$var wire 1 ! a $end')}#0\nb101 !\n`, /value "b101" is not a one-bit change/],
      [`${header('1 ns', '$var wire 1 ! a $end')}#0\n1?\n`, /value "1\?" names no declared signal/],
      [`${header('1 ns', '$var wire 1 ! a $end')}#9\n1!\n#3\n0!\n`, /"#3" is not a time at or after #9/],
      [`$timescale 1 ns\n`, /\$timescale has no \$end/],
    ];
    for (const [text, error] of cases) assert.throws(() => readVcd(text, 'x.vcd'), error, JSON.stringify(text));
  });
});
