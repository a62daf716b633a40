/**
 * The commands docs/quickstart.md has the reader type do what the text
 * around them says: every `mosquitto_pub` line of the demo section, run in
 * order with the real mosquitto_pub against a bridge with the demo's chip
 * (a fake guest instead of the demo's TCG guest, whose part is
 * test/demo/demo.test.ts), changes its line: the bridge publishes a host
 * edge for it (a command the documented rules make `unchanged` would not).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Logger } from '../../bridge/log.ts';
import { InProcessBridge } from '../../testkit/bridge-in-process.ts';
import { plainChipYaml } from '../../testkit/plain-chip.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
import { connect, type Vgpio } from '../../client/index.ts';
import { repoRoot } from '../../testkit/kernel.ts';

const exec = promisify(execFile);

/** The words of a documented `mosquitto_pub ... -m '<payload>'` line, quotes removed. */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
}

describe('docs/quickstart.md: the mosquitto_pub commands of the demo', { timeout: 120_000 }, () => {
  let bridge: InProcessBridge;
  let vgpio: Vgpio;

  before(async () => {
    bridge = await InProcessBridge.start({
      name: 'quickstart-test',
      log: new Logger('error', 'bridge', () => undefined),
      // The demo's chip (demo/session.ts), in plain mode for a fake guest.
      config: (dir, port) => plainChipYaml({
        port, chip: 'demo', dir, shm: 'demo.shm',
        lines: ['{ line: 0, name: button }', '{ line: 1, name: led, direction: output }', '{ line: 2, name: switch }'],
      }),
    });
    new FakeGuest(bridge.open('demo.shm')).bind();
    vgpio = await connect(bridge.url);
    // Subscribes each line's state and edges now, so a wait started right before a command is listening when its edge comes.
    for (const line of ['button', 'led', 'switch']) await vgpio.chip('demo').line(line).level();
  });

  after(async () => {
    await vgpio.close();
    await bridge.stop();
  });

  it('each one changes its line', async () => {
    const doc = readFileSync(join(repoRoot, 'docs/quickstart.md'), 'utf8');
    const commands = doc.split('\n').filter((l) => l.startsWith('mosquitto_pub -h 127.0.0.1 -p 1883 -t vgpio2mqtt/demo/'));
    assert.ok(commands.length >= 3, `the demo's commands: ${commands.join('\n')}`);
    for (const command of commands) {
      const [program, ...args] = words(command.replace('-p 1883', `-p ${bridge.port}`));
      const topic = args[args.indexOf('-t') + 1] ?? '';
      const line = topic.replace(/^vgpio2mqtt\/demo\//, '').replace(/\/set$/, '');
      const edge = vgpio.chip('demo').line(line).waitFor({ edge: 'any', source: 'host' }, { timeoutMs: 3000 });
      await exec(program ?? '', args);
      await edge.catch((error: unknown) => {
        assert.fail(`${command}: no edge on ${line} (${(error as Error).message})`);
      });
      // A pulse's return comes 500 ms later; a reader types the next command after that.
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
  });
});
