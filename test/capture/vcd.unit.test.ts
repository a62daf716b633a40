/** The VCD writer (unit), and its files as sigrok-cli and GTKWave's vcd2fst read them. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toVcd, vcdCode, vcdName, type VcdChange } from '../../bridge/capture/vcd.ts';
import { gtkwaveRoundTrip, parseVcd, sigrokRead } from '../support/vcd-readers.ts';

const date = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));

describe('VCD writer', () => {
  it('writes the header, the initial levels at #0 and one #time block per distinct time', () => {
    const text = toVcd(
      [{ name: 'led', initial: 0 }, { name: 'button', initial: 1 }, { name: 'irq' }],
      [
        { timeNs: 1500, signal: 0, level: 1 },
        { timeNs: 1500, signal: 1, level: 0 },
        { timeNs: 2000, signal: 2, level: 1 },
      ],
      { date, comment: 'chip0 from vgpio2mqtt capture', scope: 'chip0', endNs: 5000 },
    );
    assert.equal(
      text,
      [
        '$date 2026-01-02T03:04:05.000Z $end',
        '$version vgpio2mqtt $end',
        '$comment chip0 from vgpio2mqtt capture $end',
        '$timescale 1 ns $end',
        '$scope module chip0 $end',
        '$var wire 1 ! led $end',
        '$var wire 1 " button $end',
        '$var wire 1 # irq $end',
        '$upscope $end',
        '$enddefinitions $end',
        '#0',
        '$dumpvars',
        '0!',
        '1"',
        'x#',
        '$end',
        '#1500',
        '1!',
        '0"',
        '#2000',
        '1#',
        '#5000',
        '',
      ].join('\n'),
    );
  });

  it('gives every signal its own printable identifier code', () => {
    assert.equal(vcdCode(0), '!');
    assert.equal(vcdCode(93), '~');
    assert.equal(vcdCode(94), '!!');
    assert.equal(vcdCode(95), '"!');
    const codes = Array.from({ length: 20000 }, (_, i) => vcdCode(i));
    assert.equal(new Set(codes).size, codes.length);
    for (const code of codes) assert.match(code, /^[!-~]+$/);
  });

  it('turns names into plain wires: anything but letters, digits, _ and - becomes _, and duplicates get a suffix', () => {
    assert.equal(vcdName('led 0'), 'led_0');
    assert.equal(vcdName('a.b[3]$end'), 'a_b_3__end');
    assert.equal(vcdName('grün-1'), 'gr_n-1');
    assert.equal(vcdName(''), '_');
    const read = parseVcd(toVcd([{ name: 'a b' }, { name: 'a_b' }, { name: 'a.b' }], [], { date }));
    assert.deepEqual(read.names, ['a_b', 'a_b_2', 'a_b_3']);
  });

  it('leaves out changes to the level a signal already has, and keeps changes at time 0 after $dumpvars', () => {
    const read = parseVcd(
      toVcd(
        [{ name: 'a', initial: 1 }, { name: 'b', initial: 0 }],
        [
          { timeNs: 0, signal: 1, level: 1 },
          { timeNs: 10, signal: 0, level: 1 },
          { timeNs: 20, signal: 0, level: 0 },
          { timeNs: 30, signal: 1, level: 1 },
        ],
        { date },
      ),
    );
    assert.deepEqual(read.initial, { a: '1', b: '0' });
    assert.deepEqual(read.changes, [
      { timeNs: 0, name: 'b', level: '1' },
      { timeNs: 20, name: 'a', level: '0' },
    ]);
  });

  it('refuses unsorted times, unknown signals, bad levels and a comment that would end its section', () => {
    const signals = [{ name: 'a' }];
    assert.throws(() => toVcd(signals, [{ timeNs: 10, signal: 0, level: 1 }, { timeNs: 5, signal: 0, level: 0 }]), /after one at 10 ns; changes must be sorted by time/);
    assert.throws(() => toVcd(signals, [{ timeNs: -1, signal: 0, level: 1 }]), /times start at 0/);
    assert.throws(() => toVcd(signals, [{ timeNs: Number.NaN, signal: 0, level: 1 }]), /times start at 0/);
    assert.throws(() => toVcd(signals, [{ timeNs: 1, signal: 1, level: 1 }]), /names signal 1; there are 1/);
    assert.throws(() => toVcd(signals, [{ timeNs: 1, signal: 0, level: 2 } as unknown as VcdChange]), /levels are 0 and 1/);
    assert.throws(() => toVcd(signals, [], { comment: 'x $end y' }), /must not contain "\$end"/);
  });

  it('is read back by sigrok-cli and by GTKWave (vcd2fst, fst2vcd) with the same names and transitions', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-vcd-'));
    try {
      const signals = [{ name: 'led 0', initial: 0 as const }, { name: 'button', initial: 1 as const }, { name: 'irq', initial: 0 as const }];
      // Spacing from nanoseconds to seconds, as host and guest edges have.
      const changes: VcdChange[] = [
        { timeNs: 40, signal: 0, level: 1 },
        { timeNs: 1_000, signal: 1, level: 0 },
        { timeNs: 1_000_000, signal: 2, level: 1 },
        { timeNs: 1_000_020, signal: 0, level: 0 },
        { timeNs: 2_500_000_000, signal: 1, level: 1 },
      ];
      const file = join(dir, 'capture.vcd');
      writeFileSync(file, toVcd(signals, changes, { date, scope: 'chip0', endNs: 2_600_000_000 }));

      const sigrok = sigrokRead(file);
      assert.deepEqual(sigrok.names, ['led_0', 'button', 'irq']);
      assert.deepEqual(sigrok.initial, [0, 1, 0]);
      assert.deepEqual(sigrok.steps, [['led_0=1'], ['button=0'], ['irq=1'], ['led_0=0'], ['button=1']]);

      const gtkwave = gtkwaveRoundTrip(file);
      assert.deepEqual(gtkwave.names, ['led_0', 'button', 'irq']);
      assert.deepEqual(gtkwave.initial, { led_0: '0', button: '1', irq: '0' });
      assert.deepEqual(
        gtkwave.changes.map((c) => [c.timeNs, c.name, c.level]),
        [
          [40, 'led_0', '1'],
          [1_000, 'button', '0'],
          [1_000_000, 'irq', '1'],
          [1_000_020, 'led_0', '0'],
          [2_500_000_000, 'button', '1'],
        ],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ends after its last change even when the recording ended at that change, so sigrok-cli shows it', () => {
    // A capture stopped by --count ends the moment its last edge arrives, often in the same millisecond.
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-vcd-'));
    try {
      const signals = [{ name: 'button', initial: 0 as const }, { name: 'relay', initial: 1 as const }];
      const changes: VcdChange[] = [
        { timeNs: 1_000_000, signal: 0, level: 1 },
        { timeNs: 3_000_000, signal: 1, level: 0 },
      ];
      const file = join(dir, 'count.vcd');
      const text = toVcd(signals, changes, { date, endNs: 3_000_000 });
      assert.match(text, /\n#3000001\n$/, 'one nanosecond after the last change');
      writeFileSync(file, text);
      assert.deepEqual(sigrokRead(file).steps, [['button=1'], ['relay=0']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
