/**
 * The bridge's metrics as Prometheus and Grafana see them: a real
 * Prometheus scrapes a running bridge (server-mode chip, a fake guest that
 * joins as a real ivshmem peer and rings like the driver) driven with
 * commands and guest traffic; every PromQL expression of the Grafana
 * dashboard then returns data without error. promtool accepts the live
 * output, and /health follows the guest: 503 while it is gone, 200 when
 * it is back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IvshmemClient } from '../../native/index.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
import { connect, type Vgpio } from '../../client/index.ts';
import { until } from '../../testkit/until.ts';
import { freePort } from '../../testkit/ports.ts';
import { Prometheus } from '../support/prometheus.ts';
import { dashboardQueries } from '../support/dashboard.ts';

const B = 'vm';
const JOB = 'vgpio2mqtt';

describe('metrics scraped by a real Prometheus', () => {
  let dir: string;
  let controller: Controller;
  let metricsUrl: string;
  let vgpio: Vgpio;
  let client: IvshmemClient;
  let guest: FakeGuest;
  let prometheus: Prometheus;
  let brokerPort: number;

  /** The fake guest joins as an ivshmem peer and binds; resolves once the bridge says so on /health. */
  const joinGuest = async (): Promise<void> => {
    client = await IvshmemClient.connect(join(dir, 'board.sock'));
    guest = new FakeGuest(client.shm, client);
    // Like the driver: acknowledge every interrupt the bridge raises.
    client.on('ring', () => guest.ack());
    guest.bind();
    guest.ringHost();
    await until('/health 200 with the guest there', async () => (await fetch(`${metricsUrl}/health`)).status === 200 || false, 5000);
  };

  before(async () => {
    dir = mkdtempSync('/dev/shm/vgpio-metrics-test-');
    brokerPort = await freePort();
    const metricsPort = await freePort();
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `base_topic: ${B}
broker: { port: ${brokerPort} }
metrics: { port: ${metricsPort} }
web: { enabled: false }
homeassistant: { enabled: false }
chips:
  - name: board
    socket: ${dir}/board.sock
    shm: ${dir}/board.shm
    lines:
      - { line: 0, name: button }
      - { line: 1, name: led, direction: output }
`,
    );
    controller = await Controller.start(loadSettings({ args: ['-c', config], env: {} }), { log: new Logger('error') });
    metricsUrl = `http://127.0.0.1:${metricsPort}`;
    vgpio = await connect({ url: `mqtt://127.0.0.1:${brokerPort}`, baseTopic: B });
    prometheus = await Prometheus.start(JOB, [`127.0.0.1:${metricsPort}`]);
    await joinGuest();
    await vgpio.chip('board').waitOnline();
    const button = vgpio.chip('board').line('button');
    const led = vgpio.chip('board').line('led');

    // Traffic: host commands raising interrupts, a refused command, guest output changes rung to the host.
    guest.enableIrq(0, { rising: true, falling: true });
    for (let i = 0; i < 10; i++) {
      const level = i % 2 === 0 ? 1 : 0;
      await button.set(level);
      await button.expectLevel(level);
    }
    // A payload the client would refuse to send: mosquitto_pub puts it on the wire.
    await promisify(execFile)('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(brokerPort), '-q', '1', '-t', `${B}/board/button/set`, '-m', 'sideways']);
    guest.setDirection(1, true);
    for (let i = 0; i < 6; i++) {
      const level = i % 2 === 0 ? 1 : 0;
      guest.setOutput(1, level);
      guest.ringHost();
      await led.expectLevel(level);
    }
  });

  after(async () => {
    await prometheus.stop();
    await client.close();
    await vgpio.close();
    await controller.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves output promtool accepts, with the traffic counted', async () => {
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    assert.match(text, /^vgpio2mqtt_commands_applied_total\{chip="board",result="interrupt"\} (\d+)$/m);
    const interrupts = Number(/^vgpio2mqtt_commands_applied_total\{chip="board",result="interrupt"\} (\d+)$/m.exec(text)?.[1]);
    assert.equal(interrupts, 10);
    assert.match(text, /^vgpio2mqtt_commands_rejected_total\{chip="board",reason="bad_payload"\} 1$/m);
    assert.match(text, /^vgpio2mqtt_guest_driver_bound\{chip="board"\} 1$/m);
    assert.match(text, /^vgpio2mqtt_line_level\{chip="board",line="led"\} 0$/m);
    assert.match(text, /^vgpio2mqtt_command_to_doorbell_seconds_count\{chip="board"\} 10$/m);
    assert.match(text, /^vgpio2mqtt_mqtt_connected 1$/m);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
  });

  it('gives every dashboard query a non-empty result in Prometheus', async () => {
    // Two scrapes after the traffic, so rate() has samples to work on.
    await prometheus.waitFor(`count_over_time(vgpio2mqtt_commands_rejected_total{job="${JOB}"}[1m]) >= 2`);
    const queries = dashboardQueries();
    assert.ok(queries.length >= 10);
    for (const { panel, expr } of queries) {
      const promql = expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', JOB).replaceAll('$chip', 'board');
      const result = await prometheus.waitFor(promql, 15_000).catch((error: unknown) => {
        throw new Error(`panel "${panel}": ${promql}: ${(error as Error).message}`);
      });
      assert.equal(result.status, 'success', `${panel}: ${promql}`);
    }
  });

  it('refuses a query for a metric the bridge does not export (the check above can fail)', async () => {
    const result = await prometheus.query(`vgpio2mqtt_no_such_metric{job="${JOB}"}`);
    assert.equal(result.status, 'success');
    assert.equal(result.data?.result.length, 0);
  });

  it('answers /health with 503 while the guest is gone and 200 when it is back', async () => {
    let response = await fetch(`${metricsUrl}/health`);
    assert.equal(response.status, 200);
    await client.close();
    response = await until('/health 503 with the guest gone', async () => {
      const r = await fetch(`${metricsUrl}/health`);
      return r.status === 503 ? r : false;
    }, 5000);
    const report = (await response.json()) as { healthy: boolean; chips: Record<string, { online: boolean }> };
    assert.equal(report.healthy, false);
    assert.equal(report.chips.board?.online, false);
    await joinGuest();
    response = await fetch(`${metricsUrl}/health`);
    assert.equal(response.status, 200);
  });
});
