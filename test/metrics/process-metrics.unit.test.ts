/**
 * The process and Node.js metrics (bridge/metrics/process-metrics.ts):
 * prom-client's default set, with the CPU counters the bridge's own.
 * (test/bridge/idle-modules.test.ts checks what they keep out of memory.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BridgeMetrics } from '../../bridge/metrics/metrics.ts';
import { MetricsCollector } from '../../bridge/metrics/collect.ts';

function value(text: string, name: string): number {
  const line = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  assert.ok(line, `${name} is not in the output`);
  return Number(line[1]);
}

const seconds = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / 1e6;

describe('process metrics', () => {
  const metrics = new BridgeMetrics('0.0.0-test', new MetricsCollector().recorded);

  it('exports prom-client\'s default process and Node.js metrics under the bridge\'s prefix', async () => {
    const text = await metrics.prometheus.metrics();
    for (const name of [
      'process_cpu_user_seconds_total', 'process_cpu_system_seconds_total', 'process_cpu_seconds_total',
      'process_start_time_seconds', 'process_resident_memory_bytes', 'process_open_fds', 'process_max_fds',
      'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_active_handles', 'nodejs_active_requests',
      'nodejs_heap_size_used_bytes', 'nodejs_heap_space_size_used_bytes', 'nodejs_version_info', 'nodejs_gc_duration_seconds',
    ]) {
      assert.match(text, new RegExp(`^# TYPE vgpio2mqtt_${name} `, 'm'));
    }
    assert.match(text, /^# HELP vgpio2mqtt_process_cpu_seconds_total Total user and system CPU time spent in seconds\.$/m);
  });

  it('counts the process\'s CPU time since it started, at each scrape', async () => {
    let spin = 0;
    for (let i = 0; i < 3e7; i++) spin += i;
    assert.ok(spin > 0);
    const before = seconds(process.cpuUsage());
    const text = await metrics.prometheus.metrics();
    const after = seconds(process.cpuUsage());
    const user = value(text, 'vgpio2mqtt_process_cpu_user_seconds_total');
    const system = value(text, 'vgpio2mqtt_process_cpu_system_seconds_total');
    const total = value(text, 'vgpio2mqtt_process_cpu_seconds_total');
    assert.ok(Math.abs(total - (user + system)) < 1e-5, `${String(total)} != ${String(user)} + ${String(system)}`);
    // Everything this process ran before the scrape counts, the test runner's start-up included.
    assert.ok(total >= before && total <= after, `${String(total)} not within ${String(before)}..${String(after)}`);
  });
});
