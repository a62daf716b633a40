/**
 * The metrics endpoint on its own: Debian's promtool accepts what
 * /metrics serves, OpenMetrics is served when asked for (the same metric
 * objects, the process ones collected once; only the parts of prom-client
 * it uses are loaded), /health maps
 * healthy to 200 and unhealthy to 503.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { BridgeMetrics } from '../../bridge/metrics/metrics.ts';
import { EventEmitter } from 'node:events';
import type { Chip } from '../../bridge/chip/chip.ts';
import { MetricsCollector } from '../../bridge/metrics/collect.ts';
import type { ChipMetrics } from '../../bridge/metrics/events.ts';
import { MetricsServer, type HealthStatus } from '../../bridge/metrics/http-server.ts';

/** Runs `promtool check metrics` on `text`; resolves with its exit code and output. */
async function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  child.stdin.end(text);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, output };
}

describe('metrics endpoint', () => {
  let metrics: BridgeMetrics;
  let server: MetricsServer;
  let health: HealthStatus & Record<string, unknown> = { healthy: true };
  let url: string;

  before(async () => {
    const collector = new MetricsCollector();
    const { recorded } = collector;
    metrics = new BridgeMetrics('0.0.0-test', recorded);
    const board: ChipMetrics = new EventEmitter();
    const lines = [
      { name: 'button', configured: true },
      { name: 'led', configured: true },
    ];
    collector.chip({ config: { name: 'board', lines }, metrics: board } as unknown as Chip);
    recorded.counters.slot('commandReceived', ['board']).value += 1;
    recorded.counters.slot('commandApplied', ['board', 'interrupt']).value += 1;
    recorded.counters.slot('commandRejected', ['board', 'bad_payload']).value += 1;
    recorded.latencies.series('commandToDoorbell')[0]?.latency.observe(0.0004);
    board.emit('state', 1, 1);
    recorded.counters.slot('mqttMessage', ['in']).value += 1;
    server = await MetricsServer.start({ host: '127.0.0.1', port: 0, metrics, health: () => health });
    url = `http://127.0.0.1:${server.address.port}`;
  });
  after(async () => {
    await server.close();
  });

  it('serves Prometheus text that promtool accepts', async () => {
    const response = await fetch(`${url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /^vgpio2mqtt_commands_received_total\{chip="board"\} 1$/m);
    assert.match(text, /^vgpio2mqtt_commands_rejected_total\{chip="board",reason="bad_payload"\} 1$/m);
    assert.match(text, /^vgpio2mqtt_line_queue_depth\{chip="board",line="button"\} 0$/m);
    assert.match(text, /^vgpio2mqtt_command_to_doorbell_seconds_bucket\{le="0\.0005",chip="board"\} 1$/m);
    assert.match(text, /^vgpio2mqtt_process_cpu_seconds_total /m);
    const check = await promtoolCheck(text);
    assert.equal(check.code, 0, `promtool check metrics failed:\n${check.output}`);
  });

  it('serves OpenMetrics when the scraper asks for it', async () => {
    const response = await fetch(`${url}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    assert.match(response.headers.get('content-type') ?? '', /^application\/openmetrics-text; version=1\.0\.0/);
    const text = await response.text();
    assert.match(text, /# EOF\n?$/);
    assert.match(text, /^vgpio2mqtt_commands_received_total\{chip="board"\} 1$/m);
  });

  it('serves the same metrics in both formats, the process ones collected once for both', () => {
    const names = (registry: { getMetricsAsArray(): { name: string }[] }): string[] => registry.getMetricsAsArray().map((m) => m.name);
    assert.deepEqual(names(metrics.openMetrics), names(metrics.prometheus));
    const lag = 'vgpio2mqtt_nodejs_eventloop_lag_seconds';
    assert.ok(metrics.prometheus.getSingleMetric(lag) !== undefined);
    // One event-loop monitor and GC observer, not one per format.
    for (const name of names(metrics.prometheus)) assert.equal(metrics.openMetrics.getSingleMetric(name), metrics.prometheus.getSingleMetric(name), name);
    assert.ok(!names(metrics.openMetrics).includes('vgpio2mqtt_nodejs_active_handles_total'));
  });

  it('loads only the parts of prom-client it uses', () => {
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((file) => file.includes('/node_modules/prom-client/'));
    assert.ok(loaded.some((file) => file.endsWith('/lib/registry.js')), loaded.join('\n'));
    const unused = loaded.filter((file) => /\/prom-client\/(index|lib\/(cluster|pushgateway|summary))\.js$/.test(file));
    assert.deepEqual(unused, []);
  });

  it('answers /health with 200 when healthy and 503 when not', async () => {
    health = { healthy: true, chips: [{ name: 'board', guest: 'bound' }] };
    let response = await fetch(`${url}/health`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), health);
    health = { healthy: false, chips: [{ name: 'board', guest: 'absent' }] };
    response = await fetch(`${url}/health`);
    assert.equal(response.status, 503);
    assert.deepEqual(await response.json(), health);
  });

  it('refuses other paths and methods', async () => {
    assert.equal((await fetch(`${url}/nope`)).status, 404);
    assert.equal((await fetch(`${url}/metrics`, { method: 'POST' })).status, 405);
  });

  it('says which address is taken', async () => {
    await assert.rejects(
      MetricsServer.start({ host: '127.0.0.1', port: server.address.port, metrics, health: () => health }),
      new RegExp(`cannot listen for metrics on 127.0.0.1:${server.address.port}: EADDRINUSE`),
    );
  });
});
