import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { Topics, isValidTopicPath } from '../bridge/mqtt/topics.ts';
import { Chip } from './chip.ts';
import { closedError, VgpioError } from './errors.ts';
import { DEFAULT_TIMEOUT_MS } from './line.ts';
import type { ChipInfo, Link, SetAnswer } from './link.ts';
import { checkTimeout, waitFor } from './wait.ts';

export interface ConnectOptions {
  /** The broker the bridge uses: `mqtt://127.0.0.1:1883`, `ws://...`, `mqtts://...`. */
  url: string;
  username?: string;
  password?: string;
  /** The bridge's `base_topic` (default `vgpio2mqtt`). */
  baseTopic?: string;
  clientId?: string;
  /** How long connecting may take, and then finding the bridge (default 5000 ms each). */
  timeoutMs?: number;
}

/** CONNACK codes of a refused login (3.1.1: 4 and 5; MQTT 5: 134 and 135): retrying cannot help. */
const LOGIN_REFUSED = new Set([4, 5, 134, 135]);

/** The URL without a password, for messages. */
function shown(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return JSON.stringify(url);
  }
}

interface BridgeInfo {
  chips: ChipInfo[];
}

/**
 * A connection to a running vgpio2mqtt bridge through its broker. It
 * speaks only the documented topics (docs/topics.md): `bridge/info` for the
 * chips, `bridge/request/set` for commands, the lines' state and edge
 * topics for what happened.
 */
export class Vgpio {
  readonly topics: Topics;
  readonly url: string;
  readonly #mqtt: MqttClient;
  readonly #closer = new AbortController();
  readonly #handlers = new Map<string, (payload: string, retained: boolean) => void>();
  readonly #answers = new Map<string, (response: Record<string, unknown>) => void>();
  readonly #chips = new Map<string, Chip>();
  readonly #link: Link;
  #info: BridgeInfo | undefined;
  #state: string | undefined;
  #stateListeners = new Set<() => void>();

  private constructor(client: MqttClient, topics: Topics, url: string) {
    this.#mqtt = client;
    this.topics = topics;
    this.url = url;
    client.on('message', (topic, payload, packet) => this.#handlers.get(topic)?.(payload.toString('utf8'), packet.retain));
    this.#link = {
      topics,
      signal: this.#closer.signal,
      subscribe: (topic, handler) => this.#subscribe(topic, handler),
      set: (chip, line, body, what, timeoutMs) => this.#set(chip, line, body, what, timeoutMs),
    };
  }

  /** Connects to the broker and waits for the bridge's retained `bridge/info` and `bridge/state` online. */
  static async open(options: ConnectOptions): Promise<Vgpio> {
    const timeoutMs = checkTimeout('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const base = options.baseTopic ?? 'vgpio2mqtt';
    if (!isValidTopicPath(base)) throw new VgpioError('bad_input', `baseTopic ${JSON.stringify(base)} is not a topic prefix (levels without +, # or empty ones)`);
    const url = shown(options.url);
    const client = mqtt.connect(options.url, {
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password }),
      clientId: options.clientId ?? `vgpio-client-${randomUUID()}`,
      connectTimeout: timeoutMs,
      reconnectPeriod: 0,
    });
    const who = options.username === undefined ? 'no user name was given' : `user ${JSON.stringify(options.username)}`;
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => {
          resolve();
        });
        client.on('error', (error: Error & { code?: unknown }) => {
          if (typeof error.code === 'number' && LOGIN_REFUSED.has(error.code)) reject(new VgpioError('login_refused', `the MQTT broker at ${url} refused the login (${error.message}; ${who})`));
          else reject(new VgpioError('unreachable', `cannot connect to the MQTT broker at ${url}: ${error.message}`));
        });
        client.once('close', () => {
          reject(new VgpioError('unreachable', `cannot connect to the MQTT broker at ${url}: the connection closed (nothing listening, or it did not answer within ${timeoutMs} ms)`));
        });
      });
    } catch (error) {
      client.end(true);
      throw error;
    }
    client.removeAllListeners('error');
    client.removeAllListeners('close');
    // Connected: from now on ride out a broker restart like any MQTT client (mqtt.js resubscribes).
    client.options.reconnectPeriod = 1000;
    client.on('error', () => undefined);
    const vgpio = new Vgpio(client, new Topics(base), url);
    try {
      await vgpio.#findBridge(timeoutMs);
    } catch (error) {
      await vgpio.close();
      throw error;
    }
    return vgpio;
  }

  async #findBridge(timeoutMs: number): Promise<void> {
    const { topics } = this;
    const changed = (): void => {
      for (const listener of [...this.#stateListeners]) listener();
    };
    await Promise.all([
      this.#subscribe(topics.bridgeInfo, (payload) => {
        try {
          const info = JSON.parse(payload) as BridgeInfo;
          if (Array.isArray(info.chips)) this.#info = info;
        } catch {
          // Not the bridge's info (someone else's retained message): keep waiting for the real one.
        }
        changed();
      }),
      this.#subscribe(topics.bridgeState, (payload) => {
        try {
          this.#state = (JSON.parse(payload) as { state?: string }).state;
        } catch {
          this.#state = undefined;
        }
        changed();
      }),
      this.#subscribe(topics.response('set'), (payload) => {
        let response: Record<string, unknown>;
        try {
          response = JSON.parse(payload) as Record<string, unknown>;
        } catch {
          return;
        }
        if (typeof response.transaction === 'string') this.#answers.get(response.transaction)?.(response);
      }),
    ]);
    const ready = (): boolean => this.#info !== undefined && this.#state === 'online';
    if (ready()) return;
    await waitFor<undefined>(
      (done) => {
        const listener = (): void => {
          if (ready()) done(undefined);
        };
        this.#stateListeners.add(listener);
        return () => this.#stateListeners.delete(listener);
      },
      timeoutMs,
      () => {
        const info = this.#info === undefined ? `no retained ${topics.bridgeInfo}` : `${topics.bridgeInfo} present`;
        const state = this.#state === undefined ? `no ${topics.bridgeState}` : `${topics.bridgeState} ${this.#state}`;
        return new VgpioError('no_bridge', `expected a running vgpio2mqtt bridge with base topic ${topics.base} at ${this.url} within ${timeoutMs} ms; saw ${info} and ${state}`);
      },
      this.#closer.signal,
    );
  }

  #subscribe(topic: string, handler: (payload: string, retained: boolean) => void): Promise<void> {
    if (this.#handlers.has(topic)) throw new Error(`${topic} is subscribed twice`);
    this.#handlers.set(topic, handler);
    return this.#mqtt.subscribeAsync(topic, { qos: 1 }).then((granted) => {
      const refused = granted.find((g) => g.qos === 128);
      if (refused !== undefined) throw new VgpioError('refused', `the broker at ${this.url} refused the subscription to ${topic} (does the login allow it?)`);
    });
  }

  async #set(chip: string, line: string, body: { state: string; pulse_ms?: number }, what: string, timeoutMs: number): Promise<SetAnswer> {
    if (this.#closer.signal.aborted) throw closedError();
    const transaction = randomUUID();
    const answer = waitFor<Record<string, unknown>>(
      (done) => {
        this.#answers.set(transaction, done);
        return () => this.#answers.delete(transaction);
      },
      timeoutMs,
      () => new VgpioError('timeout', `${what}: expected the bridge's answer on ${this.topics.response('set')} within ${timeoutMs} ms; saw none (is the bridge running?)`),
      this.#closer.signal,
    );
    await this.#mqtt.publishAsync(this.topics.request('set'), JSON.stringify({ chip, line, ...body, transaction }), { qos: 1 });
    const response = await answer;
    if (response.status !== 'ok') {
      const reason = typeof response.error === 'string' ? response.error : 'no reason given';
      throw new VgpioError('refused', `${what}: the bridge refused it: ${reason}`, reason, typeof response.reason === 'string' ? response.reason : undefined);
    }
    return response.data as SetAnswer;
  }

  /** The chips the bridge serves, from its latest `bridge/info`. */
  chips(): ChipInfo[] {
    return this.#info?.chips ?? [];
  }

  /** A chip by name; an unknown one fails at once, listing the chips there are. */
  chip(name: string): Chip {
    let chip = this.#chips.get(name);
    if (chip !== undefined) return chip;
    if (!this.chips().some((c) => c.name === name)) {
      const names = this.chips().map((c) => c.name);
      throw new VgpioError('unknown_chip', `the bridge has no chip ${JSON.stringify(name)}; its chips: ${names.length === 0 ? 'none' : names.join(', ')}`);
    }
    chip = new Chip(this.#link, name, () => this.chips().find((c) => c.name === name));
    this.#chips.set(name, chip);
    return chip;
  }

  /** Ends every wait (as `closed`) and the MQTT connection. */
  async close(): Promise<void> {
    this.#closer.abort();
    await this.#mqtt.endAsync();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Connects to the bridge's broker and finds the bridge (see `ConnectOptions`). */
export function connect(target: string | ConnectOptions): Promise<Vgpio> {
  return Vgpio.open(typeof target === 'string' ? { url: target } : target);
}
