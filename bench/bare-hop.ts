/**
 * The baseline every bridge figure is compared with: one MQTT client
 * publishing to a plain topic and another receiving it through the same
 * broker (a bare MQTT hop), with the QoS the bridge uses (1).
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { until } from '../testkit/vgpio-host.ts';
import { noDelay } from '../bridge/mqtt/no-delay.ts';
import { msSince } from './samples.ts';

/**
 * A publisher on `url` and a subscriber on `subUrl` (another node of a
 * cluster) or the same broker; `subOptions`: e.g. a persistent session, as
 * the bridge's.
 */
async function pair(url: string, topic: string, subUrl = url, subOptions: IClientOptions = {}): Promise<{ pub: MqttClient; sub: MqttClient }> {
  const pub = noDelay(await mqtt.connectAsync(url, { reconnectPeriod: 0 }));
  const sub = noDelay(await mqtt.connectAsync(subUrl, { reconnectPeriod: 0, ...subOptions }));
  await sub.subscribeAsync(topic, { qos: 1 });
  return { pub, sub };
}

/** A publisher and a subscriber of one topic, kept for several rounds of samples. */
export class HopPair {
  readonly #topic: string;
  readonly #pub: MqttClient;
  readonly #sub: MqttClient;

  private constructor(topic: string, pub: MqttClient, sub: MqttClient) {
    this.#topic = topic;
    this.#pub = pub;
    this.#sub = sub;
  }

  static async open(url: string): Promise<HopPair> {
    const topic = `bench/hop/${process.pid}`;
    const { pub, sub } = await pair(url, topic);
    return new HopPair(topic, pub, sub);
  }

  /** One message at a time: publish, wait for the subscriber to get it, `count` times; milliseconds each. */
  async latency(count: number): Promise<number[]> {
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const received = new Promise<void>((resolve) => this.#sub.once('message', () => { resolve(); }));
      const start = process.hrtime.bigint();
      const published = this.#pub.publishAsync(this.#topic, i % 2 === 0 ? 'ON' : 'OFF', { qos: 1 });
      await received;
      samples.push(msSince(start));
      await published;
    }
    return samples;
  }

  async close(): Promise<void> {
    await Promise.all([this.#pub.endAsync(), this.#sub.endAsync()]);
  }
}

/**
 * Messages per second received over `seconds`, with at most `window`
 * messages published but not yet received (the same flow control the
 * throughput benchmark puts on bridge commands).
 */
export async function hopRate(url: string, seconds: number, window: number, subUrl = url, subOptions: IClientOptions = {}): Promise<{ sent: number; received: number; perSecond: number }> {
  const topic = `bench/rate/${process.pid}`;
  const { pub, sub } = await pair(url, topic, subUrl, subOptions);
  let received = 0;
  let wake: (() => void) | undefined;
  sub.on('message', () => {
    received += 1;
    wake?.();
  });
  let sent = 0;
  const start = process.hrtime.bigint();
  try {
    while (msSince(start) < seconds * 1000) {
      if (sent - received >= window) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      pub.publish(topic, sent % 2 === 0 ? 'ON' : 'OFF', { qos: 1 });
      sent += 1;
      // Let the sockets breathe every few messages, as the bridge benchmark's loop does.
      if (sent % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await until('every bare-hop message to arrive', () => received >= sent);
    const elapsed = msSince(start) / 1000;
    return { sent, received, perSecond: received / elapsed };
  } finally {
    await Promise.all([pub.endAsync(), sub.endAsync()]);
  }
}
