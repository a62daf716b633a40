/**
 * Per-command cost against the chip's size: `.../set` commands refused for
 * lack of a guest (the cheapest path: parsed, looked up, refused and
 * answered on `bridge/event`) on a 32-line and on a 1,024-line plain-mode
 * chip, each in its own bridge process with the embedded broker. The two
 * rates should be the same: nothing on the command path may scan the chip.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { freePort } from '../testkit/ports.ts';
import { noDelay } from '../bridge/mqtt/no-delay.ts';
import { BridgeProcess, type BridgeBuild } from './bridge-process.ts';
import { Topics } from '../bridge/mqtt/topics.ts';

export interface ChipSizeRate {
  lines: number;
  sent: number;
  answered: number;
  perSecond: number;
}

const BASE = 'size';
const topics = new Topics(BASE);

export async function refusedRate(lines: number, seconds: number, window: number, build: BridgeBuild): Promise<ChipSizeRate> {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-bench-size-'));
  try {
    const port = await freePort();
    // poll_ms: a minute, so the poll timer does not scan the chip during the run either.
    const config = `base_topic: ${BASE}\nlog_level: error\nbroker: { port: ${port}, max_publish_rate: null }\nmetrics: { port: ${await freePort()} }\nweb: { enabled: false }\nhomeassistant: { enabled: false }\nchips:\n  - { name: c, mode: plain, ngpio: ${lines}, poll_ms: 60000, shm: ${dir}/c.shm }\n`;
    const url = `mqtt://127.0.0.1:${port}`;
    const bridge = await BridgeProcess.start({ config, dir, url, baseTopic: BASE, build });
    // A raw mqtt.js client, not the typed one: the bench floods `.../set` at QoS 0 without waiting for answers.
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    try {
      noDelay(client);
      let answered = 0;
      let wake: (() => void) | undefined;
      client.on('message', () => {
        answered += 1;
        wake?.();
      });
      await client.subscribeAsync(topics.bridgeEvent, { qos: 0 });
      // The last line, so a scan of every bank would show.
      const topic = topics.set('c', String(lines - 1));
      let sent = 0;
      const started = process.hrtime.bigint();
      const end = started + BigInt(seconds * 1e9);
      while (process.hrtime.bigint() < end) {
        if (sent - answered >= window) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        client.publish(topic, 'TOGGLE', { qos: 0 });
        sent += 1;
        if (sent % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
      return { lines, sent, answered, perSecond: answered / elapsed };
    } finally {
      await client.endAsync();
      await bridge.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
