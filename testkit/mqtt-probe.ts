/**
 * A test's MQTT client (real mqtt.js against the real broker under test):
 * records every message it sees and waits for the one a test expects.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { filterCovers } from '../broker/topic-filter.ts';
import { Topics } from '../bridge/mqtt/topics.ts';

export interface Seen {
  topic: string;
  payload: string;
  retain: boolean;
}

export class MqttProbe {
  readonly client: MqttClient;
  readonly seen: Seen[] = [];
  readonly #waiters = new Set<{ match: (m: Seen) => boolean; resolve: (m: Seen) => void }>();

  private constructor(client: MqttClient) {
    this.client = client;
    client.on('message', (topic, payload, packet) => {
      const message = { topic, payload: payload.toString('utf8'), retain: packet.retain };
      this.seen.push(message);
      for (const waiter of this.#waiters) {
        if (waiter.match(message)) {
          this.#waiters.delete(waiter);
          waiter.resolve(message);
        }
      }
    });
  }

  static async connect(url: string, filters: string[], options: IClientOptions = {}): Promise<MqttProbe> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options });
    const probe = new MqttProbe(client);
    if (filters.length > 0) await client.subscribeAsync(filters, { qos: 1 });
    return probe;
  }

  /** Messages on topics matching `filter` seen so far (optionally since index `from`). */
  on(filter: string, from = 0): Seen[] {
    return this.seen.slice(from).filter((m) => filterCovers(filter, m.topic));
  }

  /** Resolves with the first message (already seen since `from`, or arriving) on `filter` that passes `test`. */
  waitFor(filter: string, test: (payload: string, m: Seen) => boolean = () => true, timeoutMs = 5000, from = 0): Promise<Seen> {
    const match = (m: Seen): boolean => filterCovers(filter, m.topic) && test(m.payload, m);
    const already = this.seen.slice(from).find(match);
    if (already !== undefined) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (m: Seen) => {
        clearTimeout(timer);
        resolve(m);
      } };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const recent = this.seen.slice(-8).map((m) => `${m.topic} ${m.payload}`).join('\n  ');
        reject(new Error(`no message on ${filter} matching within ${timeoutMs} ms; last seen:\n  ${recent}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Where the next waitFor(..., from) should start looking. */
  get mark(): number {
    return this.seen.length;
  }

  async publish(topic: string, payload: string | Buffer, retain = false): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, retain });
  }

  /** Sends a bridge request and resolves with the response carrying our transaction. */
  async request(base: string, command: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const topics = new Topics(base);
    const transaction = `t${Math.random().toString(36).slice(2)}`;
    const from = this.mark;
    await this.publish(topics.request(command), JSON.stringify({ ...body, transaction }));
    const answer = await this.waitFor(topics.response(command), (p) => p.includes(transaction), 5000, from);
    return JSON.parse(answer.payload) as Record<string, unknown>;
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
