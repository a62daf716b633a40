/** Reads the Grafana dashboard the tests check. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../testkit/kernel.ts';

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
}

export interface Dashboard {
  uid: string;
  schemaVersion: number;
  panels: DashboardPanel[];
  templating: { list: { name: string; type: string }[] };
}

export const dashboardPath = join(repoRoot, 'grafana', 'dashboards', 'vgpio2mqtt.json');

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(dashboardPath, 'utf8')) as Dashboard;
}

/** Every PromQL expression in the dashboard, with the title of its panel. */
export function dashboardQueries(dashboard = readDashboard()): { panel: string; expr: string }[] {
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
}
