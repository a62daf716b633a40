/**
 * Every call of the client (client/) against a running bridge with a fake
 * guest (fake-board.ts): chips and lines, set / toggle / pulse answered by
 * the bridge, level, waitFor, edges, expectLevel, measure on guest
 * timestamps, and the errors for bad input, which name what was expected
 * and what was seen.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, VgpioError, type Edge, type Vgpio } from '../../client/index.ts';
import { BLINK, FakeBoard } from './fake-board.ts';

const TIME = '\\d\\d:\\d\\d:\\d\\d\\.\\d{3}';

/** Asserts that `promise` rejects with a VgpioError of `code` whose message matches `message`. */
async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<VgpioError> {
  const error = await promise.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof VgpioError, String(error));
  assert.equal(error.code, code, error.message);
  assert.match(error.message, message);
  return error;
}

describe('the TypeScript client against a bridge with a fake guest', () => {
  let board: FakeBoard;
  let vgpio: Vgpio;

  before(async () => {
    board = await FakeBoard.start();
    vgpio = await connect(board.url);
  });

  after(async () => {
    await vgpio.close();
    await board.stop();
  });

  it('lists the chips from bridge/info and finds chips and lines by name or number', () => {
    assert.deepEqual(
      vgpio.chips().map((c) => c.name),
      ['board'],
    );
    const chip = vgpio.chip('board');
    assert.equal(chip.line('led').number, 1);
    assert.equal(chip.line(1).name, 'led');
    assert.equal(chip.line('2').name, 'blink');
    assert.equal(chip.line('button'), chip.line(0), 'one Line object per line');
  });

  it('fails at once for an unknown chip or line, listing what exists', () => {
    assert.throws(() => vgpio.chip('bord'), { name: 'VgpioError', code: 'unknown_chip', message: 'the bridge has no chip "bord"; its chips: board' });
    assert.throws(() => vgpio.chip('board').line('buton'), { code: 'unknown_line', message: /^chip board has no line "buton"; its lines: 0 button, 1 led, 2 blink, 3, 4, 5, 6, 7$/ });
    assert.throws(() => vgpio.chip('board').line(99), { code: 'unknown_line', message: /no line 99;/ });
  });

  it('waitOnline fails after its timeout while no guest is bound, naming what it saw', async () => {
    await rejectsWith(vgpio.chip('board').waitOnline({ timeoutMs: 200 }), 'timeout', new RegExp(`^expected chip board online within 200 ms; saw offline since ${TIME} or earlier$`));
  });

  it('set() is refused with the bridge\'s reason while the chip is offline', async () => {
    const error = await rejectsWith(vgpio.chip('board').line('button').set(1), 'refused', /^set board\/button ON: the bridge refused it: chip board has no guest with a bound driver; command not applied$/);
    assert.equal(error.reason, 'chip board has no guest with a bound driver; command not applied');
    assert.equal(error.refusal, 'chip_offline');
  });

  it('waitOnline resolves once the guest binds', async () => {
    const online = vgpio.chip('board').waitOnline();
    board.boot();
    await online;
    await vgpio.chip('board').waitOnline({ timeoutMs: 1 }); // at once now
  });

  it('set, toggle and pulse resolve with the bridge\'s answer; edges() sees each change in order', async () => {
    const button = vgpio.chip('board').line('button');
    const edges = await button.edges();
    try {
      assert.equal((await button.set('ON')).result, 'interrupt');
      await button.expectLevel(1);
      assert.equal(await button.level(), 1);
      assert.equal((await button.set(true)).result, 'unchanged');
      const toggled = await button.toggle();
      assert.ok(['interrupt', 'queued', 'applied'].includes(toggled.result), toggled.result);
      await button.waitFor('OFF');
      await button.pulse(30);
      const seen: string[] = [];
      for await (const edge of edges) {
        assert.equal(edge.source, 'host');
        assert.equal(edge.guestNs, undefined, 'a host edge has no guest timestamp');
        seen.push(edge.edge);
        if (seen.length === 4) break;
      }
      assert.deepEqual(seen, ['rising', 'falling', 'rising', 'falling']);
      assert.equal(await button.level(), 0);
    } finally {
      edges.close();
    }
  });

  it('waitFor an edge resolves with it, filtered by source (the guest copies the button to the led)', async () => {
    const led = vgpio.chip('board').line('led');
    const fromGuest = led.waitFor({ edge: 'rising', source: 'guest' });
    await vgpio.chip('board').line('button').set(1);
    const edge: Edge = await fromGuest;
    assert.equal(edge.source, 'guest');
    assert.equal(typeof edge.guestNs, 'number', 'a ring-reported guest edge carries guest_ns');
    await led.expectLevel('ON', { withinMs: 2000 });
    await vgpio.chip('board').line('button').set(0);
    await led.expectLevel(0);
  });

  it('refuses set() on a line the guest drives, with the bridge\'s reason', async () => {
    const error = await rejectsWith(vgpio.chip('board').line('led').set(1), 'refused', /^set board\/led ON: the bridge refused it: line led of chip board is configured as an output the guest drives; it cannot be set$/);
    assert.match(error.reason ?? '', /configured as an output/);
    assert.equal(error.refusal, 'not_host_driven');
  });

  it('waitFor an edge that never comes fails after its timeout naming the edge, what was seen and the level', async () => {
    const led = vgpio.chip('board').line('led');
    await rejectsWith(led.waitFor({ edge: 'rising' }, { timeoutMs: 200 }), 'timeout', new RegExp(`^expected board/led rising within 200 ms; saw none; level OFF since ${TIME}$`));
    const button = vgpio.chip('board').line('button');
    const hostOnly = button.waitFor({ edge: 'any', source: 'guest' }, { timeoutMs: 300 });
    await button.set(1);
    await led.expectLevel(1);
    await rejectsWith(hostOnly, 'timeout', new RegExp(`^expected board/button an edge from the guest within 300 ms; saw rising from the host at ${TIME}; level ON since ${TIME}$`));
    await button.set(0);
    await led.expectLevel(0);
  });

  it('expectLevel fails with the level the line has and since when', async () => {
    await rejectsWith(vgpio.chip('board').line('led').expectLevel('ON', { withinMs: 150 }), 'timeout', new RegExp(`^expected board/led to be ON within 150 ms; saw level OFF since ${TIME}$`));
  });

  it('measure() reports period, duty cycle and frequency from the guest\'s timestamps', async (t) => {
    const blink = vgpio.chip('board').line(BLINK);
    board.guest.setDirection(BLINK, true);
    // The guest clock: a 40 ms period, ON for 10 ms. The host sees the edges 5 ms apart, so a figure from ts_ms would differ.
    const start = 1_000_000_000n;
    const stamps: [0 | 1, bigint][] = [];
    for (let i = 0; i < 6; i++) stamps.push([1, start + BigInt(i) * 40_000_000n], [0, start + BigInt(i) * 40_000_000n + 10_000_000n]);
    const measuring = blink.measure({ windowMs: 400 });
    await new Promise((r) => setTimeout(r, 50));
    for (const [level, ns] of stamps) {
      board.drive(BLINK, level, ns);
      await new Promise((r) => setTimeout(r, 5));
    }
    const m = await measuring;
    t.diagnostic(`measured ${JSON.stringify(m)}`);
    assert.equal(m.clock, 'guest');
    assert.equal(m.edges, 12);
    assert.equal(m.rising, 6);
    assert.equal(m.falling, 6);
    assert.equal(m.periodMs, 40);
    assert.equal(m.dutyCycle, 0.25);
    assert.equal(m.frequencyHz, 25);
  });

  it('refuses bad input without sending anything', async () => {
    const button = vgpio.chip('board').line('button');
    await rejectsWith(button.pulse(0), 'bad_input', /^pulse board\/button: ms must be an integer 1\.\.3600000; got 0$/);
    await rejectsWith(button.set('on' as 'ON'), 'bad_input', /^a level is 0, 1, true, false, 'ON' or 'OFF'; got "on"$/);
    await rejectsWith(button.waitFor(1, { timeoutMs: -1 }), 'bad_input', /^timeoutMs must be a positive number of milliseconds; got -1$/);
    await rejectsWith(button.waitFor({ edge: 'up' as 'rising' }), 'bad_input', /^edge must be 'rising', 'falling' or 'any'; got "up"$/);
  });

  it('an edge stream times out naming the line, and ends every wait when the client closes', async () => {
    const other = await connect({ url: board.url, clientId: 'closing-client' });
    const blink = other.chip('board').line('blink');
    const quiet = await blink.edges({ timeoutMs: 100 });
    await rejectsWith(quiet.next(), 'timeout', /^expected an edge on board\/blink within 100 ms; saw none$/);
    const waiting = rejectsWith(blink.waitFor({ edge: 'any' }, { timeoutMs: 60_000 }), 'closed', /^the client was closed while waiting$/);
    await new Promise((r) => setImmediate(r)); // the wait is listening
    await other.close();
    await waiting;
    await rejectsWith(blink.level(), 'closed', /^the client is closed$/);
  });
});
