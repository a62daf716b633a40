/**
 * Runs examples/ts/button.test.ts (a user's test, importing
 * 'vgpio2mqtt/client' from the built package) against a bridge with a fake
 * guest whose firmware copies the button to the led. test/run.ts only
 * collects test/, so the example runs here, once.
 */
import { after } from 'node:test';
import { FakeBoard } from './fake-board.ts';

const board = await FakeBoard.start({ baseTopic: 'example' });
board.boot();
Object.assign(process.env, { VGPIO2MQTT_URL: board.url, VGPIO2MQTT_BASE_TOPIC: 'example', VGPIO2MQTT_CHIP: 'board' });

after(async () => {
  await board.stop();
});

await import('../../examples/ts/button.test.ts');
