/**
 * contrib/vgpio2mqtt.service: systemd's own checker accepts it, its
 * hardening scores as systemd rates it (`systemd-analyze security`), and it
 * starts the bridge the way docs/deployment.md says (own user, private
 * runtime folder passed as $RUNTIME_DIRECTORY, the configuration file).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const UNIT = join(import.meta.dirname, '../../contrib/vgpio2mqtt.service');

describe('the systemd unit', () => {
  it('passes systemd-analyze verify without a warning', async () => {
    const { stdout, stderr } = await run('systemd-analyze', ['verify', UNIT]);
    assert.equal(`${stdout}${stderr}`, '');
  });

  it('is hardened: systemd-analyze security rates its exposure 2.0 or less', async () => {
    // --threshold=20: the command fails when the exposure is above 2.0 ("OK" is below 3.0).
    const { stdout } = await run('systemd-analyze', ['security', '--offline=yes', '--threshold=20', '--no-pager', UNIT]);
    const score = Number(/Overall exposure level for vgpio2mqtt\.service: ([\d.]+)/.exec(stdout)?.[1]);
    assert.ok(score <= 2, `exposure ${score}`);
  });

  it('runs the bridge as its own user in its own runtime folder, with the documented paths', () => {
    const unit = readFileSync(UNIT, 'utf8');
    for (const line of [
      'User=vgpio2mqtt',
      'RuntimeDirectory=vgpio2mqtt',
      'ProtectSystem=strict',
      'NoNewPrivileges=yes',
      'ExecStart=/usr/bin/node /opt/vgpio2mqtt/dist/bridge/cli.js start --config /etc/vgpio2mqtt/vgpio2mqtt.yaml',
    ]) {
      assert.ok(unit.split('\n').includes(line), line);
    }
    const doc = readFileSync(join(import.meta.dirname, '../../docs/deployment.md'), 'utf8');
    assert.ok(doc.includes('/etc/vgpio2mqtt/vgpio2mqtt.yaml') && doc.includes('contrib/vgpio2mqtt.service'));
  });
});
