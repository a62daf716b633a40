/** Command payloads and state payloads (unit; topics: test/bridge/topics.unit.test.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { logical, MAX_COMMAND_BYTES, parseCommand, statePayload } from '../../bridge/mqtt/payload.ts';
import { edgePayload } from '../../bridge/extensions/chip-publisher.ts';
import type { LineConfig } from '../../bridge/settings/types.ts';

const line = { payloadOn: 'ON', payloadOff: 'OFF', pulseMs: null };

describe('command payloads', () => {
  it('accepts the documented words (docs/topics.md) in any case, and the line\'s own payloads', () => {
    for (const word of ['ON', 'on', '1', 'true', 'TRUE', 'high', ' High\n']) {
      assert.deepEqual(parseCommand(word, line), { ok: true, value: { target: { kind: 'level', level: 1 }, pulseMs: null } }, word);
    }
    for (const word of ['OFF', 'off', '0', 'false', 'low', 'LOW']) {
      assert.deepEqual(parseCommand(word, line), { ok: true, value: { target: { kind: 'level', level: 0 }, pulseMs: null } }, word);
    }
    assert.deepEqual(parseCommand('toggle', line), { ok: true, value: { target: { kind: 'toggle' }, pulseMs: null } });
    const door = { payloadOn: 'OPEN', payloadOff: 'CLOSED', pulseMs: null };
    assert.deepEqual(parseCommand('CLOSED', door), { ok: true, value: { target: { kind: 'level', level: 0 }, pulseMs: null } });
    assert.equal(parseCommand('closed', door).ok, false, 'configured payloads match exactly');
  });

  it('accepts JSON with a state and a pulse, and applies the line\'s default pulse', () => {
    assert.deepEqual(parseCommand('{"state":"ON","pulse_ms":200}', line), { ok: true, value: { target: { kind: 'level', level: 1 }, pulseMs: 200 } });
    assert.deepEqual(parseCommand('{"state":false}', line), { ok: true, value: { target: { kind: 'level', level: 0 }, pulseMs: null } });
    assert.deepEqual(parseCommand('{"state":1}', line), { ok: true, value: { target: { kind: 'level', level: 1 }, pulseMs: null } });
    const button = { ...line, pulseMs: 100 };
    assert.deepEqual(parseCommand('ON', button), { ok: true, value: { target: { kind: 'level', level: 1 }, pulseMs: 100 } });
    assert.deepEqual(parseCommand('{"state":"ON","pulse_ms":0}', button), { ok: true, value: { target: { kind: 'level', level: 1 }, pulseMs: null } });
  });

  it('refuses everything else with a message saying what is allowed', () => {
    const cases: [string | Buffer, string][] = [
      ['', 'empty payload; allowed: ON, OFF, 1, 0, true, false, high, low, TOGGLE, JSON {"state": ..., "pulse_ms": n} or a waveform {"pwm"|"pattern"|"bounce": {...}}'],
      ['2', 'payload "2" is not a command; allowed: ON, OFF, 1, 0, true, false, high, low, TOGGLE, JSON {"state": ..., "pulse_ms": n} or a waveform {"pwm"|"pattern"|"bounce": {...}}'],
      [Buffer.from([0xff, 0x00, 0x41]), 'payload "??A" is not a command; allowed: ON, OFF, 1, 0, true, false, high, low, TOGGLE, JSON {"state": ..., "pulse_ms": n} or a waveform {"pwm"|"pattern"|"bounce": {...}}'],
      ['{"state":"ON"', 'payload "{\\"state\\":\\"ON\\"" is not valid JSON; allowed: ON, OFF, 1, 0, true, false, high, low, TOGGLE, JSON {"state": ..., "pulse_ms": n} or a waveform {"pwm"|"pattern"|"bounce": {...}}'],
      ['[1]', 'JSON payload must be an object; allowed: ON, OFF, 1, 0, true, false, high, low, TOGGLE, JSON {"state": ..., "pulse_ms": n} or a waveform {"pwm"|"pattern"|"bounce": {...}}'],
      ['{}', 'JSON payload has no "state"; allowed: {"state": "ON"|"OFF"|"TOGGLE"|true|false|1|0, "pulse_ms": n}'],
      ['{"state":2}', '"state" "2" is not a level; allowed: "ON", "OFF", "TOGGLE", true, false, 1, 0'],
      ['{"state":null}', '"state" "null" is not a level; allowed: "ON", "OFF", "TOGGLE", true, false, 1, 0'],
      ['{"state":"ON","pulse_ms":-5}', '"pulse_ms" "-5" is not allowed; allowed: an integer 0..3600000 (0: no pulse)'],
      ['{"state":"ON","pulse_ms":1.5}', '"pulse_ms" "1.5" is not allowed; allowed: an integer 0..3600000 (0: no pulse)'],
      ['{"state":"ON","level":1}', 'unknown JSON field "level"; allowed fields: state, pulse_ms, or one of pwm, pattern, bounce'],
      ['x'.repeat(MAX_COMMAND_BYTES + 1), `payload is ${MAX_COMMAND_BYTES + 1} bytes; at most ${MAX_COMMAND_BYTES} are allowed`],
    ];
    for (const [payload, error] of cases) assert.deepEqual(parseCommand(payload, line), { ok: false, error }, JSON.stringify(payload.toString()));
  });

  it('formats states and inverts levels', () => {
    assert.equal(statePayload(1, { payloadOn: 'OPEN', payloadOff: 'CLOSED' }), 'OPEN');
    assert.equal(statePayload(0, line), 'OFF');
    assert.equal(logical(1, { inverted: true }), 0);
    assert.equal(logical(0, { inverted: true }), 1);
    assert.equal(logical(1, { inverted: false }), 1);
  });
});

describe('edge payloads', () => {
  it('are the documented JSON, with guest_ns only when the guest reported the change', () => {
    const config = {} as LineConfig;
    const host = edgePayload({ line: config, edge: 'rising', source: 'host', seq: 7, tsMs: 1764547200123 });
    assert.deepEqual(JSON.parse(host), { edge: 'rising', source: 'host', seq: 7, ts_ms: 1764547200123 });
    const guest = edgePayload({ line: config, edge: 'falling', source: 'guest', seq: 4294967295, tsMs: 1764547200124, guestNs: 81234567890123 });
    assert.deepEqual(JSON.parse(guest), { edge: 'falling', source: 'guest', seq: 4294967295, ts_ms: 1764547200124, guest_ns: 81234567890123 });
    assert.equal(guest, JSON.stringify(JSON.parse(guest)), 'compact, keys in the documented order');
  });
});
