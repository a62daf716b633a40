/**
 * What an idle bridge keeps out of its memory: a bridge with its embedded
 * broker (TCP only), metrics and a server-mode chip, started in a fresh
 * Node process, has loaded neither `node:tls` (no TLS listener, no mqtts
 * broker for an agent) nor `@opentelemetry/api` (prom-client's CPU counters
 * load it; bridge/metrics/process-metrics.ts counts CPU itself). Each costs
 * an idle bridge about a megabyte of RSS.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../testkit/kernel.ts';
import { freePort } from '../../testkit/ports.ts';

interface Loaded {
  tls: boolean;
  otel: number;
}

const START = `
import { createRequire } from 'node:module';
import { loadSettings } from './bridge/settings/load.ts';
import { Controller } from './bridge/controller.ts';
import { Logger } from './bridge/log.ts';
const controller = await Controller.start(loadSettings({ args: ['-c', process.env.CONFIG], env: {} }), { log: new Logger('error') });
const tls = process.moduleLoadList.includes('NativeModule tls');
const otel = Object.keys(createRequire(import.meta.url).cache).filter((path) => path.includes('/@opentelemetry/')).length;
await controller.stop();
process.stdout.write(JSON.stringify({ tls, otel }));
`;

it('an idle bridge has loaded neither node:tls nor @opentelemetry/api', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-idle-'));
  try {
    const config = join(dir, 'bridge.yaml');
    writeFileSync(config, [
      'base_topic: idle',
      'log_level: error',
      `broker: { port: ${String(await freePort())} }`,
      `metrics: { port: ${String(await freePort())} }`,
      // The web view on a free port: enabled as by default, and never in another run's way on 8080.
      'web: { port: 0 }',
      'chips:',
      `  - { name: c0, ngpio: 32, socket: ${dir}/c0.sock, shm: ${dir}/c0.shm }`,
      '',
    ].join('\n'));
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', START], {
      cwd: repoRoot, encoding: 'utf8', env: { ...process.env, CONFIG: config }, timeout: 60_000,
    });
    assert.equal(child.status, 0, child.stderr);
    const loaded = JSON.parse(child.stdout) as Loaded;
    assert.equal(loaded.tls, false, 'node:tls is loaded');
    assert.equal(loaded.otel, 0, '@opentelemetry/api is loaded');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
