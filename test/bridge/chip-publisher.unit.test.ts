/**
 * ChipPublisher's start/stop alone (unit: a chip stand-in that is an event
 * emitter, a context that records publications): stop() removes the
 * listeners it added and no others (the metrics collector follows the same
 * chips), and publishes the states it still held for the turn.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Chip } from '../../bridge/chip/chip.ts';
import type { LineConfig } from '../../bridge/settings/types.ts';
import { ChipPublisher } from '../../bridge/extensions/chip-publisher.ts';
import type { ExtensionContext } from '../../bridge/extensions/extension.ts';
import { Topics } from '../../bridge/mqtt/topics.ts';

const EVENTS = ['state', 'edge', 'received', 'config', 'availability', 'problem', 'waveform-stopped'] as const;

function setup(): { chip: EventEmitter; publisher: ChipPublisher; published: string[] } {
  const chip = Object.assign(new EventEmitter(), { config: { name: 'board' } });
  const published: string[] = [];
  const ctx = {
    topics: new Topics('vt'),
    chips: new Map([['board', chip as unknown as Chip]]),
    mqtt: { subscribe: () => () => undefined },
    publish: (topic: string, payload: string) => published.push(`${topic} ${payload}`),
    event: () => undefined,
  } as unknown as ExtensionContext;
  return { chip, publisher: new ChipPublisher(ctx), published };
}

describe('ChipPublisher start/stop', () => {
  it('removes only its own chip listeners on stop', () => {
    const { chip, publisher } = setup();
    const others = (): number[] => EVENTS.map((event) => chip.listenerCount(event));
    const metrics = (): void => undefined;
    for (const event of EVENTS) chip.on(event, metrics);
    publisher.start();
    assert.deepEqual(others(), EVENTS.map(() => 2), 'one listener of its own per event');
    publisher.stop();
    assert.deepEqual(others(), EVENTS.map(() => 1), 'the other follower keeps its listeners');
    for (const event of EVENTS) assert.deepEqual(chip.listeners(event), [metrics]);
  });

  it('publishes the states held for the turn when it stops', () => {
    const { chip, publisher, published } = setup();
    publisher.start();
    const line = { name: 'button', payloadOn: 'ON', payloadOff: 'OFF', retain: true } as LineConfig;
    chip.emit('state', line, 1, false);
    chip.emit('state', line, 0, false);
    assert.deepEqual(published, ['vt/board/button ON'], 'the second state of the turn is held');
    publisher.stop();
    assert.deepEqual(published, ['vt/board/button ON', 'vt/board/button OFF']);
  });
});
