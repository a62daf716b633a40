/** capture's flags and the payloads it reads (unit). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../../bridge/settings/load.ts';
import { CaptureTopics, parseEdge, parseState } from '../../bridge/capture/layout.ts';
import { captureOptions, parseDuration } from '../../bridge/capture/options.ts';

describe('capture flags', () => {
  it('reads durations in ms, s, m and h, a bare number as seconds', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('10s'), 10_000);
    assert.equal(parseDuration('1.5m'), 90_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('3'), 3000);
    for (const bad of ['', '0', '0.1ms', '10x', '-1s', '1e3', 's', '25h']) assert.throws(() => parseDuration(bad), /is not a duration from 1ms to 24h/, bad);
  });

  it('takes lines by name or number in the order given, every line by number without --lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-capture-options-'));
    try {
      const config = join(dir, 'config.yaml');
      writeFileSync(config, `chips:\n  - { name: board, mode: plain, shm: ${dir}/board.shm, ngpio: 4, lines: [{ line: 1, name: led }] }\n`);
      const settings = loadSettings({ args: ['-c', config], env: {} });
      const source = { chips: settings.chips, from: 'the configuration' };
      const names = (lines?: string): string[] => captureOptions({ chip: 'board', out: '-', ...(lines === undefined ? {} : { lines }) }, source).lines.map((l) => l.name);
      assert.deepEqual(names(), ['0', 'led', '2', '3']);
      assert.deepEqual(names('3,led, 0'), ['3', 'led', '0']);
      assert.deepEqual(names('1'), ['led'], 'a named line also answers to its number');
      assert.throws(() => names('4'), /chip board has no line "4"; lines are named \(led\) or numbered 0\.\.3/);
      assert.throws(() => names('led,1'), /--lines names line 1 \(led\) twice/);
      assert.throws(() => names('led,'), /--lines "led," has an empty entry/);
      const both = captureOptions({ chip: 'board', out: 'x.vcd', duration: '2s', count: '10' }, source);
      assert.equal(both.durationMs, 2000);
      assert.equal(both.count, 10);
      assert.throws(() => captureOptions({ chip: 'board', out: 'x.vcd', count: '1.5' }, source), /--count "1\.5" is not a whole number/);
      assert.equal(captureOptions({ out: '-' }, source).chip.name, 'board', 'the lone chip without --chip');
      assert.throws(() => captureOptions({ chip: 'nope', out: '-' }, source), /no chip "nope" in the configuration; chips: board/);
      const two = { chips: [...settings.chips, { ...settings.chips[0] ?? assert.fail(), name: 'other' }], from: 'the running bridge (bridge/info)' };
      assert.throws(() => captureOptions({ out: '-' }, two), /the running bridge \(bridge\/info\) has 2 chips \(board, other\): name one with --chip <chip>/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('capture payloads', () => {
  const line = { line: 2, name: 'relay', configured: true, direction: 'input' as const, payloadOn: 'OPEN', payloadOff: 'CLOSED', inverted: false, retain: true, pulseMs: null, debounceMs: 0 };

  it('reads the bridge\'s edge payload, guest_ns when present', () => {
    assert.deepEqual(parseEdge(Buffer.from('{"edge":"rising","source":"host","seq":3,"ts_ms":1700000000123}')), { level: 1, source: 'host', hostMs: 1700000000123 });
    assert.deepEqual(parseEdge(Buffer.from('{"edge":"falling","source":"guest","seq":4,"ts_ms":5,"guest_ns":81234567890}')), { level: 0, source: 'guest', hostMs: 5, guestNs: 81234567890 });
  });

  it('skips anything malformed', () => {
    for (const bad of [
      '{"edge":"falling","source":"guest","seq":4,"ts":7}',
      '{"edge":"up","source":"host","ts_ms":1}',
      '{"edge":"rising","source":"bridge","ts_ms":1}',
      '{"edge":"rising","source":"host"}',
      '{"edge":"rising","source":"host","ts_ms":"1"}',
      '[1]',
      'ON',
      '',
    ]) {
      assert.equal(parseEdge(Buffer.from(bad)), undefined, bad);
    }
    assert.equal(parseEdge(Buffer.from('{"edge":"rising","source":"guest","ts_ms":1,"guest_ns":-5}'))?.guestNs, undefined, 'a negative guest_ns is no guest time');
  });

  it('reads a state by the line\'s own payloads', () => {
    assert.equal(parseState(Buffer.from('OPEN'), line), 1);
    assert.equal(parseState(Buffer.from('CLOSED'), line), 0);
    assert.equal(parseState(Buffer.from('ON'), line), undefined);
  });

  it('subscribes with wildcards and maps each line\'s topics to its place in the capture', () => {
    const topics = new CaptureTopics('lab/vg', 'board', [line, { ...line, line: 0, name: '0' }]);
    assert.equal(topics.edges, 'lab/vg/board/+/edge');
    assert.equal(topics.states, 'lab/vg/board/+');
    assert.equal(topics.bridgeState, 'lab/vg/bridge/state');
    assert.equal(topics.edgeLine('lab/vg/board/relay/edge'), 0);
    assert.equal(topics.edgeLine('lab/vg/board/0/edge'), 1);
    assert.equal(topics.stateLine('lab/vg/board/0'), 1);
    assert.equal(topics.stateLine('lab/vg/board/availability'), undefined);
    assert.equal(topics.edgeLine('lab/vg/other/relay/edge'), undefined);
  });
});
