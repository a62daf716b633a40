/**
 * What every part of the bridge that talks MQTT gets (the zigbee2mqtt
 * pattern: one controller, small extensions). An extension subscribes in
 * start(), republishes what it owns in connected() (called on every
 * (re)connect), and lets go in stop().
 */
import type { Chip } from '../chip/chip.ts';
import type { Settings } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { MqttLink } from '../mqtt/link.ts';
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

export interface Extension {
  start(): void;
  connected(): void;
  stop(): void;
}
