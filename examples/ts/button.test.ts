/**
 * An example test of a guest's firmware with vgpio2mqtt's client: the
 * firmware lights `led` while `button` is pressed. Run it against a
 * running bridge and guest:
 *
 *   VGPIO2MQTT_URL=mqtt://127.0.0.1:1883 VGPIO2MQTT_CHIP=vgpio0 node --import tsx --test examples/ts/button.test.ts
 *
 * (test/client/example.test.ts runs it against a fake guest in CI.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Vgpio } from 'vgpio2mqtt/client';

const env = process.env;

describe('the firmware lights the LED while the button is pressed', () => {
  let vgpio: Vgpio;

  before(async () => {
    vgpio = await connect({ url: env.VGPIO2MQTT_URL ?? 'mqtt://127.0.0.1:1883', baseTopic: env.VGPIO2MQTT_BASE_TOPIC ?? 'vgpio2mqtt' });
    // A booting guest takes a while to bind its driver: wait for it, never sleep a guessed time.
    await vgpio.chip(env.VGPIO2MQTT_CHIP ?? 'vgpio0').waitOnline({ timeoutMs: 60_000 });
  });

  after(async () => {
    await vgpio.close();
  });

  it('the LED goes on with the button and off again', async () => {
    const chip = vgpio.chip(env.VGPIO2MQTT_CHIP ?? 'vgpio0');
    const button = chip.line('button');
    const led = chip.line('led');

    // Start waiting before pressing, so the LED's edge cannot slip by.
    const lit = led.waitFor({ edge: 'rising', source: 'guest' }, { timeoutMs: 2000 });
    const answer = await button.set('ON');
    assert.notEqual(answer.result, 'unchanged', 'the button was up before the test');
    await lit;

    await button.set('OFF');
    await led.expectLevel('OFF', { withinMs: 2000 });
  });

  it('a 100 ms press blinks the LED once', async () => {
    const led = vgpio.chip(env.VGPIO2MQTT_CHIP ?? 'vgpio0').line('led');
    const edges = await led.edges({ source: 'guest', timeoutMs: 2000 });
    try {
      await vgpio.chip(env.VGPIO2MQTT_CHIP ?? 'vgpio0').line('button').pulse(100);
      const seen = [];
      for await (const edge of edges) {
        seen.push(edge.edge);
        if (seen.length === 2) break;
      }
      assert.deepEqual(seen, ['rising', 'falling']);
    } finally {
      edges.close();
    }
  });
});
