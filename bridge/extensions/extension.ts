/**
 * What every part of the bridge that talks MQTT gets (the zigbee2mqtt
 * pattern: one controller, small extensions). An extension subscribes in
 * start(), republishes what it owns in connected() (called on every
 * (re)connect), and lets go in stop().
 *
 * An extension owns what it registers: subscriptions, listeners (on chips,
 * the link, the signals) and timers go through this.subscribe, this.listen,
 * this.after and this.every, which record how to undo them, and stop()
 * undoes them all at once (as zigbee2mqtt's Extension base does with its
 * event bus). After stop() the helpers register nothing, so a late
 * callback (a reconnect, a retained message) cannot start anything again.
 */
import type { Chip } from '../chip/chip.ts';
import type { Settings } from '../settings/types.ts';
import type { Logger } from '../log.ts';
import type { MessageHandler, MqttLink } from '../mqtt/link.ts';
import type { Topics } from '../mqtt/topics.ts';
import type { EventEmitter } from 'node:events';
import type { Counters, ExtensionSignals } from '../metrics/collect.ts';

export interface BridgeEvent {
  type: string;
  message: string;
  [key: string]: unknown;
}

export interface ExtensionContext {
  settings: Settings;
  topics: Topics;
  mqtt: MqttLink;
  chips: ReadonlyMap<string, Chip>;
  log: Logger;
  /** What extensions report for metrics (bridge/metrics/collect.ts listens). */
  signals: EventEmitter<ExtensionSignals>;
  /** The running totals, for bridge/request/health. */
  counters: Counters;
  version: string;
  /** What the broker side looks like, for bridge/info. */
  broker: { mode: 'embedded' | 'external'; server: string; listeners: Record<string, string> };
  /** The web view's URL, for bridge/info; null when web.enabled is false. */
  web: string | null;
  /** Publishes on `<base>/bridge/event` (not retained). */
  event(event: BridgeEvent): void;
  /** Publishes, logging (never throwing) when it fails. */
  publish(topic: string, payload: string, retain: boolean): void;
}

/** A timer started through Extension.after or .every; cancel() is also done by stop(). */
export interface OwnedTimer {
  cancel(): void;
}

export abstract class Extension {
  protected readonly ctx: ExtensionContext;
  /** How to undo each registration still in place, in the order they were made. */
  readonly #owned = new Set<() => void>();
  #stopped = false;

  constructor(ctx: ExtensionContext) {
    this.ctx = ctx;
  }

  abstract start(): void;

  /** Called on every (re)connect; nothing by default. */
  connected(): void {
    // An extension with nothing retained to republish.
  }

  /** Undoes every subscription, listener and timer it registered, then calls stopped(). Only the first call does anything. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const undo of [...this.#owned].reverse()) undo();
    this.#owned.clear();
    this.stopped();
  }

  /** What a subclass does once its registrations are gone (publish what it held back). */
  protected stopped(): void {
    // Nothing by default.
  }

  /** `undo` runs at stop() unless what this returns ran it first (the helpers register nothing once stopped). */
  #own(undo: () => void): () => void {
    this.#owned.add(undo);
    return () => {
      if (this.#owned.delete(undo)) undo();
    };
  }

  /** The link's subscribe, undone at stop(). Returns what undoes it earlier. */
  protected subscribe(filter: string, handler: MessageHandler): () => void {
    if (this.#stopped) return () => undefined;
    return this.#own(this.ctx.mqtt.subscribe(filter, handler));
  }

  /** emitter.on(event, listener), removed at stop(). Returns what removes it earlier. */
  protected listen<T extends Record<keyof T, unknown[]>, K extends keyof T & (string | symbol)>(emitter: EventEmitter<T>, event: K, listener: (...args: T[K]) => void): () => void {
    if (this.#stopped) return () => undefined;
    // TypeScript cannot narrow EventEmitter's conditional listener type for a generic event name.
    emitter.on(event as never, listener as never);
    return this.#own(() => emitter.off(event as never, listener as never));
  }

  /** setTimeout, cleared at stop(); does nothing once stopped. */
  protected after(ms: number, fn: () => void): OwnedTimer {
    if (this.#stopped) return { cancel: () => undefined };
    const timer = setTimeout(() => {
      cancel();
      fn();
    }, ms);
    const cancel = this.#own(() => {
      clearTimeout(timer);
    });
    return { cancel };
  }

  /** setInterval, cleared at stop(); does nothing once stopped. */
  protected every(ms: number, fn: () => void): OwnedTimer {
    if (this.#stopped) return { cancel: () => undefined };
    const timer = setInterval(fn, ms);
    return {
      cancel: this.#own(() => {
        clearInterval(timer);
      }),
    };
  }
}
