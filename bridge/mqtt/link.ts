/**
 * What the bridge needs from MQTT, whichever way it reaches the broker: an
 * MQTT client to an external broker (MqttConnection), or the embedded
 * broker's own API in-process (BrokerLink). Extensions only see this.
 */
import type { EventEmitter } from 'node:events';

/** A message the bridge published, or has to publish again (an edge a command made). */
export interface Published {
  topic: string;
  payload: string;
}

/**
 * A message its handler has not taken yet (a command waiting behind a
 * line's pending interrupt). take() says it is taken, with the edge it
 * made; whoever waits hears it synchronously, within the same call, so
 * that nothing can fall between a command's change and its record.
 */
export class Taking {
  #taken = false;
  #edge: Published | undefined;
  #listener: ((edge: Published | undefined) => void) | undefined;

  get taken(): boolean {
    return this.#taken;
  }

  take(edge?: Published): void {
    if (this.#taken) return;
    this.#taken = true;
    this.#edge = edge;
    this.#listener?.(edge);
  }

  /** Calls `listener` once taken (at once if it is). */
  whenTaken(listener: (edge: Published | undefined) => void): void {
    if (this.#taken) listener(this.#edge);
    else this.#listener = listener;
  }
}

/**
 * What a command is about to write to shared memory: line `line` of chip
 * `chip` from electrical level `before` to `level`. Recorded before the
 * write, so that after a crash the line's `in` tells whether it was done.
 */
export interface Intent {
  chip: string;
  line: number;
  level: 0 | 1;
  before: 0 | 1;
}

/** Records an Intent durably, synchronously: it returns before the write it announces may happen. */
export type Intend = (intent: Intent) => void;

/**
 * `retained` is true for a message the broker replayed because it was
 * stored retained (delivered on subscribing), false for a live one. A
 * handler that returns a Taking has not necessarily taken the message: a
 * QoS 1 message is acknowledged to the broker only once it is taken (see
 * MqttConnection). `intend` is given with a QoS 1 message whose link keeps
 * a journal: a handler calls it right before each change the message
 * makes in shared memory, now or later from a line's queue.
 */
// eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- a handler that takes its message at once returns nothing
export type MessageHandler = (topic: string, payload: Buffer, retained: boolean, intend?: Intend) => void | Taking;

/** Undoes one subscribe(); calling it again does nothing. */
export type Unsubscribe = () => void;

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
   * message, and keeps the subscription across reconnects. Returns what
   * undoes it: the handler gets nothing more, and the broker subscription
   * goes with the filter's last handler.
   */
  subscribe(filter: string, handler: MessageHandler): Unsubscribe;
  /** Handlers subscribed and not undone (what an extension leaves behind shows here). */
  readonly handlers: number;
  publish(topic: string, payload: string | Buffer, options?: PublishOptions): Promise<void>;
  /**
   * Stops handing messages to the handlers (an external broker delivers
   * the ones not taken again, to the next run); resolves once every
   * message already handed over is taken and acknowledged.
   */
  stopTaking(): Promise<void>;
  /** Messages handed to the handlers and not yet taken. */
  readonly untaken: number;
  /** Publishes `last` (if given) and lets go; gives up waiting for the broker after `timeoutMs` (default STOP_TIMEOUT_MS). */
  close(last?: LastMessage, timeoutMs?: number): Promise<void>;
}

/**
 * How long a stop waits, in all, for the commands already taken to reach
 * the guest and for the broker to take the last messages, in ms: the
 * bridge then exits anyway, saying what may not have been delivered.
 */
export const STOP_TIMEOUT_MS = 10_000;

/** The QoS of a publication: retained messages (states) default to 1, others to 0. */
export function publishQos(options: PublishOptions): 0 | 1 {
  return options.qos ?? (options.retain === true ? 1 : 0);
}
