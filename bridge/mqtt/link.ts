/**
 * What the bridge needs from MQTT, whichever way it reaches the broker: an
 * MQTT client to an external broker (MqttConnection), or the embedded
 * broker's own API in-process (BrokerLink). Extensions only see this.
 */
import type { EventEmitter } from 'node:events';

/**
 * `retained` is true for a message the broker replayed because it was
 * stored retained (delivered on subscribing), false for a live one.
 */
export type MessageHandler = (topic: string, payload: Buffer, retained: boolean) => void;

export interface PublishOptions {
  retain?: boolean;
  qos?: 0 | 1;
}

export interface LastMessage {
  topic: string;
  payload: string;
  retain: boolean;
}

/** What a link reports: (re)connected, lost, and each message it received (in) or published (out). */
export interface LinkEvents {
  connect: [];
  offline: [];
  traffic: [direction: 'in' | 'out'];
}

export interface MqttLink extends EventEmitter<LinkEvents> {
  readonly connected: boolean;
  /**
   * Routes messages on topics matching `filter` to `handler`, once per
   * message, and keeps the subscription across reconnects.
   */
  subscribe(filter: string, handler: MessageHandler): void;
  publish(topic: string, payload: string | Buffer, options?: PublishOptions): Promise<void>;
  /** Publishes `last` (if given) and lets go. */
  close(last?: LastMessage): Promise<void>;
}

/** The QoS of a publication: retained messages (states) default to 1, others to 0. */
export function publishQos(options: PublishOptions): 0 | 1 {
  return options.qos ?? (options.retain === true ? 1 : 0);
}
