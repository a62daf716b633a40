/** play's flags against a VCD and the configured chips, and capture's --decode spec and sigrok run (unit). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../../bridge/settings/load.ts';
import { decodeFile, decodedText, parseDecode } from '../../bridge/capture/decode.ts';
import { captureOptions } from '../../bridge/capture/options.ts';
import { playOptions } from '../../bridge/capture/play-options.ts';
import { toVcd, type VcdChange } from '../../bridge/capture/vcd.ts';

function withChips<T>(run: (dir: string, source: { chips: ReturnType<typeof loadSettings>['chips']; from: string }) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-play-options-'));
  try {
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `chips:
  - { name: board, mode: plain, shm: ${dir}/board.shm, ngpio: 4, lines: [{ line: 0, name: button }, { line: 1, name: sw }, { line: 3, name: led, direction: output }] }
  - { name: other, mode: plain, shm: ${dir}/other.shm, ngpio: 2 }
`,
    );
    return run(dir, { chips: loadSettings({ args: ['-c', config], env: {} }).chips, from: 'the configuration' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const vcd = `$timescale 1 us $end\n$scope module board $end\n$var wire 1 ! button $end\n$var wire 1 " sw $end\n$var wire 1 # led $end\n$upscope $end\n$enddefinitions $end\n#0\n0!\n1"\nx#\n#10\n1!\n#20\n1#\n`;

describe('play flags', () => {
  it('maps signals to lines of the same name on --chip, or as --map says; SIGNAL=- leaves one out', () => {
    withChips((dir, source) => {
      const file = join(dir, 'in.vcd');
      writeFileSync(file, vcd);
      const targets = (map: string[], chip = 'board'): string[] => playOptions({ in: file, chip, map }, source).targets.map((t) => `${t.signal}>${t.chip}/${t.line.name}`);
      assert.deepEqual(targets(['led=-']), ['0>board/button', '1>board/sw']);
      assert.deepEqual(targets(['led=-,button=other/1', 'board.sw=0']), ['0>other/1', '1>board/button']);
      assert.deepEqual(targets(['led=-', 'sw=-', 'button=other/0']), ['0>other/0']);
      const options = playOptions({ in: file, chip: 'board', map: ['led=-'], speed: '2.5', loop: 'true' }, source);
      assert.equal(options.speed, 2.5);
      assert.equal(options.loop, true);
      assert.equal(options.trace.changes.length, 2);
    });
  });

  it('names every unknown signal, unmapped signal and guest-driven line before anything is played', () => {
    withChips((dir, source) => {
      const file = join(dir, 'in.vcd');
      writeFileSync(file, vcd);
      assert.throws(
        () => playOptions({ in: file, chip: 'board', map: ['nosuch=1', 'sw=other/7'] }, source),
        (error: Error) => {
          assert.match(error.message, /^nothing was played:/);
          assert.match(error.message, /--map names signal\(s\) not in .*in\.vcd: nosuch \(its signals: board\.button, board\.sw, board\.led\)/);
          assert.match(error.message, /--map sw=other\/7: chip other has no line "7"/);
          assert.match(error.message, /signal board\.led would drive board\/led, an output the guest drives; play only drives input lines \(leave it out with --map led=-\)/);
          return true;
        },
      );
      assert.throws(() => playOptions({ in: file, map: ['led=-'] }, source), /signal board\.button has no line of the same name \(no chip was given for line button: write chip\/line or pass --chip\); map it with --map button=chip\/line/);
      assert.throws(() => playOptions({ in: file, chip: 'board', map: ['led=-', 'sw=button'] }, source), /signals board\.button and board\.sw both drive board\/button/);
      assert.throws(() => playOptions({ in: file, chip: 'board', map: ['led=-', 'sw'] }, source), /--map "sw" is not SIGNAL=chip\/line, SIGNAL=line or SIGNAL=-/);
      assert.throws(() => playOptions({ in: file, chip: 'board', map: ['led=-', 'button=-', 'sw=-'] }, source), /nothing to play/);
      writeFileSync(file, vcd.replace('#20\n1#', '#20\nz!'));
      assert.throws(() => playOptions({ in: file, chip: 'board', map: ['led=-'] }, source), /signal board\.button becomes x or z \(unknown\) at 20000 ns/);
      for (const speed of ['0', '-1', 'fast', '1001']) assert.throws(() => playOptions({ in: file, chip: 'board', speed }, source), /--speed .* is not a factor from 0\.001 to 1000/, speed);
      assert.throws(() => playOptions({ chip: 'board' }, source), /play needs --in <file\.vcd>/);
      assert.throws(() => playOptions({ in: join(dir, 'missing.vcd'), chip: 'board' }, source), /cannot read --in ".*missing\.vcd": ENOENT/);
      writeFileSync(file, 'Time [s],D0\n0.0,1\n');
      assert.throws(() => playOptions({ in: file, chip: 'board' }, source), /in\.vcd is not a VCD file/);
    });
  });
});

describe('capture --decode', () => {
  it('takes uart and i2c on captured lines, by name or number, and refuses a line not in the capture before recording', () => {
    withChips((_dir, source) => {
      const options = captureOptions({ chip: 'board', lines: 'button,led', out: 'x.vcd', decode: 'uart:rx=3,baud=300' }, source);
      assert.deepEqual(options.decode, { protocol: 'uart', channels: { rx: 'led' }, baud: 300, text: 'uart:rx=3,baud=300' });
      assert.deepEqual(parseDecode('i2c:scl=button,sda=led', options.lines).channels, { scl: 'button', sda: 'led' });
      assert.throws(() => captureOptions({ chip: 'board', lines: 'button,led', out: 'x.vcd', decode: 'uart:rx=sw,baud=300' }, source), /--decode uart:rx=sw,baud=300: line "sw" is not in the capture; captured lines: button, led \(add it to --lines\)/);
      assert.throws(() => captureOptions({ chip: 'board', out: '-', decode: 'uart:rx=sw,baud=300' }, source), /--decode reads the capture from its file/);
      assert.throws(() => parseDecode('spi:clk=led', options.lines), /unknown protocol "spi"/);
      assert.throws(() => parseDecode('uart:rx=led', options.lines), /uart needs baud=N/);
      assert.throws(() => parseDecode('uart:rx=led,baud=0', options.lines), /baud "0" is not a whole number from 1/);
      assert.throws(() => parseDecode('i2c:scl=led', options.lines), /i2c needs sda=LINE/);
      assert.throws(() => parseDecode('i2c:scl=led,sda=button,speed=1', options.lines), /"speed" is not an option of i2c/);
    });
  });

  it('prints the bytes sigrok decodes from a 1 ns VCD: UART at 300 baud, an I2C write', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-decode-'));
    try {
      const uart: VcdChange[] = [];
      const bitNs = Math.round(1e9 / 300);
      let t = 5e6;
      for (const byte of Buffer.from('Hi!\xff\x00', 'latin1')) {
        for (const bit of [0, ...Array.from({ length: 8 }, (_, i) => (byte >> i) & 1), 1]) {
          uart.push({ timeNs: t, signal: 0, level: bit as 0 | 1 });
          t += bitNs;
        }
      }
      writeFileSync(join(dir, 'uart.vcd'), toVcd([{ name: 'tx', initial: 1 }], uart, { endNs: t + 5e6 }));
      const spec = parseDecode('uart:rx=tx,baud=300', [{ line: 0, name: 'tx', configured: true, direction: 'output', payloadOn: 'ON', payloadOff: 'OFF' }]);
      const decoded = await decodeFile(spec, join(dir, 'uart.vcd'));
      assert.deepEqual(decoded.bytes, [0x48, 0x69, 0x21, 0xff, 0x00]);
      assert.equal(decodedText(spec, decoded), 'decode uart rx=tx at 300 baud: 5 byte(s): 48 69 21 ff 00 "Hi!.."');

      // START, address 0x50 write, 0x12, 0x34 (each ACKed), STOP; 1 ms per clock phase.
      const i2c: VcdChange[] = [];
      t = 1e6;
      const put = (scl: 0 | 1, sda: 0 | 1): void => {
        i2c.push({ timeNs: t, signal: 0, level: scl }, { timeNs: t, signal: 1, level: sda });
        t += 1e6;
      };
      put(1, 0);
      put(0, 0);
      for (const byte of [0x50 << 1, 0x12, 0x34]) {
        for (const bit of [...Array.from({ length: 8 }, (_, i) => ((byte >> (7 - i)) & 1) as 0 | 1), 0 as const]) {
          put(0, bit);
          put(1, bit);
          put(0, bit);
        }
      }
      put(1, 0);
      put(1, 1);
      const changes = i2c.filter((c, i) => i2c.slice(0, i).filter((p) => p.signal === c.signal).at(-1)?.level !== c.level || i < 2);
      writeFileSync(join(dir, 'i2c.vcd'), toVcd([{ name: 'scl', initial: 1 }, { name: 'sda', initial: 1 }], changes, { endNs: t + 1e6 }));
      const i2cSpec = parseDecode('i2c:scl=scl,sda=sda', [
        { line: 0, name: 'scl', configured: true, direction: 'output', payloadOn: 'ON', payloadOff: 'OFF' },
        { line: 1, name: 'sda', configured: true, direction: 'output', payloadOn: 'ON', payloadOff: 'OFF' },
      ]);
      const i2cDecoded = await decodeFile(i2cSpec, join(dir, 'i2c.vcd'));
      assert.deepEqual(i2cDecoded.bytes, [0x50, 0x12, 0x34]);
      assert.equal(decodedText(i2cSpec, i2cDecoded), 'decode i2c scl=scl sda=sda: Write, Address write: 50, Data write: 12, Data write: 34');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
