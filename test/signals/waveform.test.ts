/** The waveform generator against a fake clock, and the waveform payloads (unit). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand } from '../../bridge/mqtt/payload.ts';
import type { Level } from '../../bridge/shm/line-registers.ts';
import { pwmArgument } from '../../bridge/signals/pwm-arg.ts';
import { Waveform, type Clock, type Wave } from '../../bridge/signals/waveform.ts';

/** A clock whose time moves only when the test says; a timer fires `lateMs` after it is due. */
class FakeClock implements Clock {
  time = 0;
  spinMs = 0;
  lateMs = 0;
  #timers: { at: number; callback: () => void; id: number }[] = [];
  #ids = 0;

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.#ids;
    this.#timers.push({ at: this.time + ms + this.lateMs, callback, id });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== handle);
  }

  /** Moves time forward to `until`, firing each timer at its time. */
  advance(until: number): void {
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at);
      const next = this.#timers[0];
      if (next === undefined || next.at > until) break;
      this.#timers.shift();
      this.time = next.at;
      next.callback();
    }
    this.time = until;
  }

  get pending(): number {
    return this.#timers.length;
  }
}

function run(wave: Wave, clock: FakeClock, until: number, from = 0): { at: number; level: Level }[] {
  const steps: { at: number; level: Level }[] = [];
  const waveform = new Waveform(wave, (level) => {
    steps.push({ at: clock.now(), level });
    return true;
  }, clock);
  waveform.start(from);
  clock.advance(until);
  waveform.stop();
  return steps;
}

const line = { payloadOn: 'ON', payloadOff: 'OFF', pulseMs: null };
const waveOf = (payload: string): Wave => {
  const parsed = parseCommand(payload, line);
  assert.ok(parsed.ok && parsed.value.wave !== undefined, payload);
  return parsed.value.wave;
};

describe('waveform generator', () => {
  it('schedules a pwm from the start: 20 ms at 25% is high 5 ms, low 15 ms', () => {
    const steps = run(waveOf('{"pwm":{"period_ms":20,"duty":25}}'), new FakeClock(), 60);
    assert.deepEqual(steps, [
      { at: 0, level: 1 }, { at: 5, level: 0 }, { at: 20, level: 1 }, { at: 25, level: 0 }, { at: 40, level: 1 }, { at: 45, level: 0 }, { at: 60, level: 1 },
    ]);
  });

  it('does not drift when every timer is late: each edge is due from the start, not from the previous one', () => {
    const clock = new FakeClock();
    clock.lateMs = 0.7;
    const steps = run(waveOf('{"pwm":{"period_ms":10,"duty":50}}'), clock, 1000);
    assert.equal(steps.length, 200, 'one edge per 5 ms over 1 s, after the first');
    for (const [k, step] of steps.entries()) {
      const due = k * 5;
      assert.ok(step.at - due >= 0 && step.at - due <= 0.7 + 1e-9, `edge ${k} at ${step.at}, due ${due}`);
    }
  });

  it('applies every due edge in order after a long stall, skipping none', () => {
    const clock = new FakeClock();
    const levels: Level[] = [];
    const waveform = new Waveform(waveOf('{"pattern":{"high_ms":1,"low_ms":1,"count":5}}'), (level) => {
      levels.push(level);
      return true;
    }, clock);
    waveform.start();
    clock.lateMs = 100;
    clock.advance(500);
    assert.deepEqual(levels, [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
    assert.equal(waveform.running, false);
  });

  it('ends a pattern after count pulses, low, and calls ended once', () => {
    const clock = new FakeClock();
    let ended = 0;
    const steps: Level[] = [];
    const waveform = new Waveform(waveOf('{"pattern":{"high_ms":3,"low_ms":7,"count":3}}'), (level) => {
      steps.push(level);
      return true;
    }, clock, () => (ended += 1));
    waveform.start();
    clock.advance(1000);
    assert.deepEqual(steps, [1, 0, 1, 0, 1, 0]);
    assert.equal(ended, 1);
    assert.equal(clock.pending, 0, 'no timer left');
  });

  it('bounces N dips before settling: 2N+1 steps, the last the settle level', () => {
    const steps = run(waveOf('{"bounce":{"pulses":4,"pulse_ms":2,"settle":"OFF"}}'), new FakeClock(), 100);
    assert.deepEqual(steps.map((s) => s.level), [0, 1, 0, 1, 0, 1, 0, 1, 0]);
    assert.deepEqual(steps.map((s) => s.at), [0, 2, 4, 6, 8, 10, 12, 14, 16]);
  });

  it('starts at a later step when the first was written by the command', () => {
    const steps = run(waveOf('{"pwm":{"period_ms":4,"duty":50}}'), new FakeClock(), 8, 1);
    assert.deepEqual(steps, [{ at: 2, level: 0 }, { at: 4, level: 1 }, { at: 6, level: 0 }, { at: 8, level: 1 }]);
  });

  it('sets its timer spinMs early and waits out the rest on the clock: never early, never a timer late', () => {
    const clock = new FakeClock();
    clock.spinMs = 1;
    clock.lateMs = 0.8;
    // Time moves 0.05 ms per look at the clock while it spins.
    const now = clock.now.bind(clock);
    clock.now = () => {
      clock.time += 0.05;
      return now();
    };
    const steps: number[] = [];
    const waveform = new Waveform(waveOf('{"pwm":{"period_ms":10,"duty":50}}'), () => {
      steps.push(clock.time);
      return true;
    }, clock);
    waveform.start();
    clock.advance(49);
    waveform.stop();
    assert.equal(steps.length, 10);
    for (const [k, at] of steps.entries()) assert.ok(at >= k * 5 && at - k * 5 < 0.2, `edge ${k} at ${at}, due ${k * 5}`);
  });

  it('tries a step the line cannot take yet again later, losing none and keeping the order', () => {
    const clock = new FakeClock();
    const levels: Level[] = [];
    let full = 3;
    const waveform = new Waveform(waveOf('{"pattern":{"high_ms":2,"low_ms":2,"count":3}}'), (level, k) => {
      if (k === 2 && full-- > 0) return 'later';
      levels.push(level);
      return true;
    }, clock);
    waveform.start();
    clock.advance(100);
    assert.deepEqual(levels, [1, 0, 1, 0, 1, 0]);
    assert.equal(full, -1, 'step 2 tried four times');
  });

  it('stops when apply refuses a step, and on stop()', () => {
    const clock = new FakeClock();
    let calls = 0;
    const waveform = new Waveform(waveOf('{"pwm":{"period_ms":4,"duty":50}}'), () => ++calls < 3, clock);
    waveform.start();
    clock.advance(100);
    assert.equal(calls, 3);
    assert.equal(waveform.running, false);
    assert.equal(clock.pending, 0);
  });
});

describe('waveform payloads', () => {
  it('refuses malformed waveforms with a clear error', () => {
    const refusals: [string, RegExp][] = [
      ['{"pwm":{"period_ms":0,"duty":50}}', /"pwm.period_ms" "0" is not allowed; allowed: a number of milliseconds 1\.\./],
      ['{"pwm":{"period_ms":-20,"duty":50}}', /"pwm.period_ms" "-20" is not allowed/],
      ['{"pwm":{"period_ms":20,"duty":0}}', /"pwm.duty" "0" is not allowed; allowed: a percentage above 0 and below 100/],
      ['{"pwm":{"period_ms":20,"duty":101}}', /"pwm.duty" "101"/],
      ['{"pwm":{"period_ms":20,"duty":-5}}', /"pwm.duty" "-5"/],
      ['{"pwm":{"period_ms":20,"duty":"50%"}}', /"pwm.duty"/],
      ['{"pwm":{"period_ms":20}}', /"pwm" has no "duty"/],
      ['{"pwm":{"period_ms":2,"duty":10}}', /leaves a step shorter than 1 ms/],
      ['{"pwm":20}', /"pwm" must be an object/],
      ['{"pattern":{"high_ms":5,"low_ms":0}}', /"pattern.low_ms" "0"/],
      ['{"pattern":{"high_ms":5,"low_ms":5,"count":0}}', /"pattern.count" "0" is not allowed; allowed: an integer 1\.\./],
      ['{"pattern":{"high_ms":5,"low_ms":5,"count":2.5}}', /"pattern.count"/],
      ['{"bounce":{"pulses":3,"pulse_ms":1,"settle":"maybe"}}', /"bounce.settle" .* is not a level/],
      ['{"bounce":{"pulses":3,"pulse_ms":1}}', /"bounce" has no "settle"/],
      ['{"pwm":{"period_ms":20,"duty":50,"phase":3}}', /unknown field "phase" in "pwm"/],
      ['{"pwm":{"period_ms":20,"duty":50},"state":"ON"}', /one field, "pwm", "pattern" or "bounce"/],
    ];
    for (const [payload, error] of refusals) {
      const parsed = parseCommand(payload, line);
      assert.ok(!parsed.ok, payload);
      assert.match(parsed.error, error, payload);
    }
  });

  it('reads an endless pattern and a bounce that settles ON', () => {
    assert.deepEqual(waveOf('{"pattern":{"high_ms":2.5,"low_ms":7.5}}'), { kind: 'pattern', first: 1, firstMs: 2.5, secondMs: 7.5, levels: null });
    const parsed = parseCommand('{"bounce":{"pulses":5,"pulse_ms":1,"settle":"ON"}}', line);
    assert.deepEqual(parsed, { ok: true, value: { target: { kind: 'level', level: 1 }, pulseMs: null, wave: { kind: 'bounce', first: 1, firstMs: 1, secondMs: 1, levels: 11 } } });
  });
});

describe('set --pwm', () => {
  it('reads PERIOD:DUTY with the period in ms, s or Hz', () => {
    assert.deepEqual(pwmArgument('20ms:50%'), { pwm: { period_ms: 20, duty: 50 } });
    assert.deepEqual(pwmArgument('0.5s:10'), { pwm: { period_ms: 500, duty: 10 } });
    assert.deepEqual(pwmArgument('100Hz:25%'), { pwm: { period_ms: 10, duty: 25 } });
    assert.deepEqual(pwmArgument('20:50%'), { pwm: { period_ms: 20, duty: 50 } }, 'a bare number is milliseconds');
  });

  it('refuses anything else, saying the form', () => {
    for (const bad of ['', '20ms', '20ms:', ':50%', '-20ms:50%', '20min:50%', '20ms:50%%']) {
      assert.throws(() => pwmArgument(bad), /allowed: PERIOD:DUTY% with PERIOD in ms, s or Hz/, bad);
    }
  });
});
