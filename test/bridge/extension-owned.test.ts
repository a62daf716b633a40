/**
 * Extensions own what they register (unit, no broker process): after
 * stop() an extension leaves no subscription on the link, no listener on
 * a chip, the link or the signals, and no timer, and nothing it receives
 * afterwards (a reconnect, a retained message) starts anything again.
 * The link is a recording stand-in whose subscribe() returns its undo, as
 * MqttLink's does; BrokerLink's own undo is checked against in-process
 * Aedes and a network client.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { EmbeddedBroker } from '../../broker/embedded.ts';
import type { Chip } from '../../bridge/chip/chip.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { BridgeApi } from '../../bridge/extensions/bridge-api.ts';
import { ChipPublisher } from '../../bridge/extensions/chip-publisher.ts';
import { Extension, type ExtensionContext } from '../../bridge/extensions/extension.ts';
import { HomeAssistant } from '../../bridge/extensions/homeassistant/extension.ts';
import { HomeAssistantCleanup } from '../../bridge/extensions/homeassistant/cleanup.ts';
import { Logger } from '../../bridge/log.ts';
import { BrokerLink } from '../../bridge/mqtt/broker-link.ts';
import type { MessageHandler } from '../../bridge/mqtt/link.ts';
import { Topics } from '../../bridge/mqtt/topics.ts';

const CHIP_EVENTS = ['state', 'edge', 'received', 'config', 'availability', 'problem', 'waveform-stopped'] as const;

/** A link that records subscriptions; subscribe() returns what removes one. */
class RecordingLink extends EventEmitter {
  readonly routes = new Set<{ filter: string; handler: MessageHandler }>();
  readonly connected = true;

  subscribe(filter: string, handler: MessageHandler): () => void {
    const route = { filter, handler };
    this.routes.add(route);
    return () => this.routes.delete(route);
  }

  /** Hands a message to every route whose filter is exactly `topic` (enough for these tests). */
  deliver(topic: string, payload: string, retained: boolean): void {
    for (const route of this.routes) if (route.filter === topic || route.filter.endsWith('/#')) route.handler(topic, Buffer.from(payload), retained);
  }
}

function setup(): { ctx: ExtensionContext; link: RecordingLink; chip: EventEmitter; published: string[] } {
  const settings = loadSettings({ args: [], env: {} });
  const chip = Object.assign(new EventEmitter(), { config: settings.chips[0] });
  const link = new RecordingLink();
  const published: string[] = [];
  const ctx = {
    settings,
    topics: new Topics(settings.baseTopic),
    mqtt: link,
    chips: new Map([[settings.chips[0]?.name ?? '', chip as unknown as Chip]]),
    log: new Logger('error', 'test', () => undefined),
    signals: new EventEmitter(),
    version: 'test',
    broker: { mode: 'embedded', server: 'embedded', listeners: {} },
    web: null,
    event: () => undefined,
    publish: (topic: string) => published.push(topic),
  } as unknown as ExtensionContext;
  return { ctx, link, chip, published };
}

const chipListeners = (chip: EventEmitter): number => CHIP_EVENTS.reduce((sum, event) => sum + chip.listenerCount(event), 0);
const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

/** Subscribes, listens on a chip, the link and the signals, and runs a timeout and an interval: all through the base. */
class Everything extends Extension {
  fired = 0;

  start(): void {
    this.subscribe('t/#', () => undefined);
    this.listen(this.ctx.mqtt, 'connect', () => undefined);
    this.listen(this.ctx.signals, 'request', () => undefined);
    for (const chip of this.ctx.chips.values()) this.listen(chip, 'edge', () => undefined);
    this.after(60_000, () => (this.fired += 1));
    this.every(60_000, () => (this.fired += 1));
  }
}

describe('Extension base', () => {
  it('removes every subscription, listener and timer it registered on stop()', () => {
    const { ctx, link, chip } = setup();
    const before = timers();
    const extension = new Everything(ctx);
    extension.start();
    assert.equal(link.routes.size, 1);
    assert.equal(link.listenerCount('connect') + ctx.signals.listenerCount('request') + chip.listenerCount('edge'), 3);
    assert.equal(timers() - before, 2);
    extension.stop();
    assert.equal(link.routes.size, 0, 'no subscription left');
    assert.equal(link.listenerCount('connect') + ctx.signals.listenerCount('request') + chip.listenerCount('edge'), 0, 'no listener left');
    assert.equal(timers() - before, 0, 'no timer left');
    extension.start();
    const left = (): number => link.routes.size + chip.listenerCount('edge') + timers() - before;
    assert.equal(left(), 0, 'a start after stop registers nothing');
  });
});

describe('the bridge\'s extensions own what they register', () => {
  it('BridgeApi, ChipPublisher and HomeAssistant leave no subscription, listener or timer after stop()', () => {
    const { ctx, link, chip } = setup();
    const before = timers();
    const ha = new HomeAssistant(ctx);
    const extensions = [new BridgeApi(ctx), new ChipPublisher(ctx), ha];
    for (const extension of extensions) extension.start();
    ha.connected();
    assert.ok(link.routes.size >= 4, `subscribed (${link.routes.size})`);
    assert.ok(chipListeners(chip) > CHIP_EVENTS.length, 'ChipPublisher and the recent trace listen on the chip');
    assert.equal(timers() - before, 1, 'Home Assistant\'s settle timer runs');
    for (const extension of extensions) extension.stop();
    assert.deepEqual([...link.routes].map((r) => r.filter), [], 'no subscription left on the link');
    assert.equal(chipListeners(chip), 0, 'no listener left on the chip');
    assert.equal(timers() - before, 0, 'no timer left');
  });

  it('HomeAssistantCleanup leaves no subscription after stop()', () => {
    const { ctx, link } = setup();
    const cleanup = new HomeAssistantCleanup(ctx);
    cleanup.start();
    assert.equal(link.routes.size, 2);
    cleanup.stop();
    assert.equal(link.routes.size, 0);
  });

  it('Home Assistant\'s timer cannot start again after stop(): a reconnect announces nothing', async () => {
    const { ctx, published } = setup();
    const before = timers();
    const ha = new HomeAssistant(ctx);
    ha.start();
    ha.stop();
    ha.connected();
    assert.equal(timers() - before, 0, 'no settle timer after stop');
    await sleep(700);
    assert.deepEqual(published, [], 'nothing announced after stop');
  });
});

describe('BrokerLink.subscribe', () => {
  it('returns what undoes it: the handler hears nothing more and Aedes drops the subscription', async () => {
    const broker = await EmbeddedBroker.start({ tcp: { host: '127.0.0.1', port: 0 }, ws: null, tls: null, users: [], persistenceDir: null });
    const link = new BrokerLink(broker, new Logger('error', 'test', () => undefined));
    await once(link, 'connect');
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.addresses.tcp?.port ?? 0}`, { reconnectPeriod: 0 });
    try {
      const heard: string[] = [];
      const unsubscribe = link.subscribe('u/#', (topic) => {
        heard.push(topic);
      });
      assert.equal(link.handlers, 1);
      await client.publishAsync('u/1', 'x', { qos: 1 });
      await sleep(50);
      unsubscribe();
      assert.equal(link.handlers, 0);
      await client.publishAsync('u/2', 'x', { qos: 1 });
      await sleep(50);
      assert.deepEqual(heard, ['u/1']);
      unsubscribe();
      assert.equal(link.handlers, 0, 'undoing twice does nothing');
    } finally {
      await client.endAsync();
      await link.close();
      await broker.close();
    }
  });
});

describe('Controller.stop', () => {
  it('removes the link\'s connect listener it added for the extensions', async () => {
    const dir = mkdtempSync('/dev/shm/vgpio-owned-');
    try {
      writeFileSync(
        join(dir, 'config.yaml'),
        `broker: { port: null }\nmetrics: { port: null }\nweb: { enabled: false }\nchips:\n  - { name: board, socket: ${dir}/board.sock, shm: ${dir}/board.shm, poll_ms: 60000 }\n`,
      );
      const controller = await Controller.start(loadSettings({ args: ['-c', join(dir, 'config.yaml')], env: {} }), { log: new Logger('error', 'test', () => undefined) });
      const link = controller.mqtt ?? assert.fail('no link');
      const before = link.listenerCount('connect');
      assert.equal(before, 2, 'the controller (for its extensions) and the metrics collector listen for (re)connects');
      await controller.stop();
      // The collector's stays: it records the link's state to the end, and goes with the link.
      assert.equal(link.listenerCount('connect'), 1, 'the controller\'s connect listener is gone after stop');
      assert.equal(link.handlers, 0, 'no subscription left after stop');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
