/**
 * The baseline every bridge figure is compared with: one MQTT client
 * publishing to a plain topic and another receiving it through the same
 * broker (a bare MQTT hop), with the QoS the bridge uses (1).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { until } from '../test/kernel/vgpio-host.ts';
import { noDelay } from '../bridge/mqtt/no-delay.ts';
import { msSince, summarize, type Summary } from './samples.ts';

async function pair(url: string, topic: string): Promise<{ pub: MqttClient; sub: MqttClient }> {
  const pub = noDelay(await mqtt.connectAsync(url, { reconnectPeriod: 0 }));
  const sub = noDelay(await mqtt.connectAsync(url, { reconnectPeriod: 0 }));
  await sub.subscribeAsync(topic, { qos: 1 });
  return { pub, sub };
}

/** One message at a time: publish, wait for the subscriber to get it, repeat `count` times. */
export async function hopLatency(url: string, count: number): Promise<Summary> {
  const topic = `bench/hop/${process.pid}`;
  const { pub, sub } = await pair(url, topic);
  const samples: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const received = new Promise<void>((resolve) => sub.once('message', () => { resolve(); }));
      const start = process.hrtime.bigint();
      const published = pub.publishAsync(topic, i % 2 === 0 ? 'ON' : 'OFF', { qos: 1 });
      await received;
      samples.push(msSince(start));
      await published;
    }
  } finally {
    await Promise.all([pub.endAsync(), sub.endAsync()]);
  }
  return summarize(samples);
}

/**
 * Messages per second received over `seconds`, with at most `window`
 * messages published but not yet received (the same flow control the
 * throughput benchmark puts on bridge commands).
 */
export async function hopRate(url: string, seconds: number, window: number): Promise<{ sent: number; received: number; perSecond: number }> {
  const topic = `bench/rate/${process.pid}`;
  const { pub, sub } = await pair(url, topic);
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
