/**
 * An idle chip with an ivshmem server costs no polls: while no peer but the
 * bridge is connected, no guest maps its region and the poll timer does not
 * read it; a peer that joins is scanned at once and polled from then on,
 * and once it leaves the polls stop again (issue: 256 idle chips were each
 * read every poll_ms).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { IvshmemClient } from '../../native/index.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
import { until } from '../../testkit/until.ts';

const POLL_MS = 20;
const WINDOW_MS = 400;

describe('polls of a server-mode chip', () => {
  let dir: string;
  let controller: Controller;
  let scans = 0;

  before(async () => {
    dir = mkdtempSync('/dev/shm/vgpio-idle-polls-');
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `base_topic: idlepolls
broker: { port: 0 }
metrics: { port: 0 }
web: { enabled: false }
homeassistant: { enabled: false }
chips:
  - name: board
    socket: ${dir}/board.sock
    shm: ${dir}/board.shm
    poll_ms: ${POLL_MS}
    lines:
      - { line: 0, name: button }
`,
    );
    controller = await Controller.start(loadSettings({ args: ['-c', config], env: {} }), { log: new Logger('error') });
    const chip = controller.chips.get('board') ?? assert.fail('no chip board');
    chip.metrics.on('scanned', () => {
      scans += 1;
    });
  });

  after(async () => {
    await controller.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Scans during WINDOW_MS (20 poll periods). */
  async function scansOver(): Promise<number> {
    const from = scans;
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
    return scans - from;
  }

  it('reads nothing while no guest peer is connected, is polled while one is, and stops again when it leaves', async (t) => {
    const idle = await scansOver();
    assert.equal(idle, 0, 'no scan without a guest peer');

    const client = await IvshmemClient.connect(join(dir, 'board.sock'));
    const guest = new FakeGuest(client.shm, client);
    guest.bind();
    guest.ringHost();
    await until('the chip online', () => controller.chips.get('board')?.online === true, 5_000);
    const attached = await scansOver();
    assert.ok(attached >= WINDOW_MS / POLL_MS / 4, `${attached} scans in ${WINDOW_MS} ms with a guest peer`);

    await client.close();
    await until('the chip offline', () => controller.chips.get('board')?.online === false, 5_000);
    const left = await scansOver();
    assert.equal(left, 0, 'no scan once the guest peer left');
    t.diagnostic(`scans in ${WINDOW_MS} ms at poll_ms ${POLL_MS}: ${idle} without a guest peer, ${attached} with one, ${left} after it left`);
  });
});
