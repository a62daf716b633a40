/**
 * The Grafana dashboard imports cleanly: valid JSON, unique panel ids,
 * every panel has a datasource (the template variable) and a query, and
 * every metric a query names is one the bridge exports.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BridgeMetrics } from '../../bridge/metrics/metrics.ts';
import { EventEmitter } from 'node:events';
import type { Chip } from '../../bridge/chip/chip.ts';
import { MetricsCollector } from '../../bridge/metrics/collect.ts';
import { dashboardQueries, readDashboard } from '../support/dashboard.ts';

describe('Grafana dashboard', () => {
  const dashboard = readDashboard();

  it('has unique panel ids and a datasource variable', () => {
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(dashboard.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'));
    assert.ok(dashboard.schemaVersion >= 36);
  });

  it('gives every panel the datasource variable and at least one query', () => {
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      assert.equal(panel.datasource?.uid, '${datasource}', `${panel.title}: datasource`);
      assert.ok((panel.targets ?? []).length > 0, `${panel.title}: no query`);
      for (const target of panel.targets ?? []) {
        assert.ok(target.expr.trim() !== '', `${panel.title}: empty query`);
        assert.equal(target.datasource?.uid, '${datasource}', `${panel.title}: target datasource`);
      }
    }
  });

  it('names only metrics the bridge exports', async () => {
    const collector = new MetricsCollector();
    const metrics = new BridgeMetrics('test', collector.recorded);
    collector.chip({ config: { name: 'c', lines: [{ name: 'l', configured: true }] }, metrics: new EventEmitter() } as unknown as Chip);
    const exported = new Set(
      (await metrics.prometheus.getMetricsAsJSON()).flatMap((m) =>
        String(m.type) === 'histogram' ? [m.name, `${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
      ),
    );
    for (const { panel, expr } of dashboardQueries()) {
      for (const name of expr.match(/vgpio2mqtt_[a-z_]+/g) ?? []) {
        assert.ok(exported.has(name), `${panel}: ${name} is not exported by the bridge`);
      }
    }
  });
});
