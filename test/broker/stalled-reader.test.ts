/**
 * A subscriber that stops reading cannot grow a running bridge without
 * bound: a real client subscribed to `#` over TCP (and one over the web
 * view's WebSocket) stops reading while another client publishes 1,500 x
 * 100 KiB. The broker disconnects it once broker.max_client_output_bytes
 * are waiting for it, says so in the log (client id and address) and in
 * the refusal metric, the bridge's RSS stays bounded meanwhile and is near
 * where it started once the client is gone (the flood itself leaves some
 * 35 MiB with V8 and malloc, as it does with a subscriber that reads).
 * RSS is the bridge process's, measured from /proc.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { freePort } from '../../testkit/ports.ts';
import { rssBytes } from '../../testkit/rss.ts';
import { until } from '../../testkit/vgpio-host.ts';
import { startBridgeProcess } from '../support/bridge-process.ts';
import { packets, RawClient } from '../support/raw-mqtt.ts';
import { scratchDir } from '../support/scratch-dir.ts';

const MiB = 1 << 20;
const MESSAGES = 1500;
const PAYLOAD = Buffer.alloc(100 * 1024, 0x5a);

/** A stalled subscriber: `stall()` stops reading; `gone()` closes it from this side. */
interface Stalled {
  stall(): void;
  gone(): void;
}

async function tcpStalled(port: number): Promise<Stalled> {
  const client = await RawClient.connect(port);
  client.socket.write(packets.connect('stalled-tcp'));
  client.socket.write(packets.subscribe('#'));
  // CONNACK (4 bytes) and SUBACK (5 bytes), then whatever retained messages follow.
  await client.receive(9);
  return {
    stall: () => client.socket.pause(),
    gone: () => client.socket.destroy(),
  };
}

async function webSocketStalled(port: number): Promise<Stalled> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/mqtt`, ['mqtt']);
  ws.on('error', () => undefined);
  let frames = 0;
  ws.on('message', () => (frames += 1));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(packets.connect('stalled-ws'));
  ws.send(packets.subscribe('#'));
  await until('CONNACK and SUBACK', () => frames >= 2);
  return {
    stall: () => { ws.pause(); },
    gone: () => { ws.terminate(); },
  };
}

describe('a subscriber that stops reading', { timeout: 240_000 }, () => {
  const dir = scratchDir('vgpio-stalled-');

  const run = async (t: TestContext, kind: string, open: (ports: { broker: number; web: number }) => Promise<Stalled>): Promise<void> => {
    const ports = { broker: await freePort(), web: await freePort(), metrics: await freePort() };
    const config = join(dir, `${kind}.yaml`);
    writeFileSync(config, `broker: { port: ${ports.broker} }\nmetrics: { port: ${ports.metrics} }\nweb: { port: ${ports.web} }\nhomeassistant: { enabled: false }\nchips: [{ name: a, mode: plain, shm: ${dir}/${kind}.shm, ngpio: 4 }]\n`);
    const { child: bridge, log } = await startBridgeProcess(config);
    const publisher = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.broker}`, { clientId: 'flood', reconnectPeriod: 0 });
    try {
      const pid = bridge.pid ?? assert.fail('no pid');
      const stalled = await open(ports);
      stalled.stall();
      // Settle, so the start figure is the bridge's with both clients connected.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const start = rssBytes(pid);
      let peak = start;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssBytes(pid));
      }, 50);
      for (let i = 0; i < MESSAGES; i += 1) await publisher.publishAsync('flood/x', PAYLOAD, { qos: 0 });
      // Let the broker route what it has read.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      clearInterval(sampler);
      peak = Math.max(peak, rssBytes(pid));
      stalled.gone();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const end = rssBytes(pid);
      const mib = (bytes: number): string => (bytes / MiB).toFixed(1);
      t.diagnostic(`${kind}: bridge RSS ${mib(start)} MiB at start, ${mib(peak)} MiB at most while the client stalled (+${mib(peak - start)}), ${mib(end)} MiB 3 s after it left`);
      assert.ok(peak - start < 64 * MiB, `RSS grew by ${mib(peak - start)} MiB while the client stalled`);
      // The flood passing through leaves about 35 MiB with V8 and malloc even with a subscriber that reads (not given back within seconds);
      // without the bound, the stalled client added some 170 MiB more, kept after it left.
      assert.ok(end - start < 64 * MiB, `RSS is ${mib(end - start)} MiB above the start after the client left`);
      const dropped = new RegExp(`client stalled-${kind} from 127\\.0\\.0\\.1 dropped: \\d+ bytes it has not read are waiting, more than broker\\.max_client_output_bytes \\(8388608\\)`);
      await until('the drop in the bridge\'s log', () => dropped.test(log()), 10_000).catch(() => undefined);
      assert.match(log(), dropped);
      const metrics = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
      assert.match(metrics, /vgpio2mqtt_mqtt_clients_refused_total\{reason="output"\} 1\n/);
    } finally {
      await publisher.endAsync(true);
      bridge.kill('SIGTERM');
    }
  };

  it('over TCP is disconnected and the bridge\'s memory stays bounded', async (t) => {
    await run(t, 'tcp', ({ broker }) => tcpStalled(broker));
  });

  it('over the web view\'s WebSocket is disconnected and the bridge\'s memory stays bounded', async (t) => {
    await run(t, 'ws', ({ web }) => webSocketStalled(web));
  });
});
