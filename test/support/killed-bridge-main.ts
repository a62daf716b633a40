/**
 * The bridge as `vgpio2mqtt start -c <config>` runs it, killing itself
 * (SIGKILL) within its <n>-th host edge: the command's change is in shared
 * memory, its edge handed to the connection but not written yet, and the
 * command not yet recorded as applied. A crash at exactly that point, for
 * test/bridge/stop-safe.test.ts; a kill from outside lands there only by
 * chance. Run with `node --import tsx test/support/killed-bridge-main.ts
 * <config> <n>` (the runtime folder, and so the journal, from the
 * environment, as for the CLI).
 */
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';

const [config = '', at = ''] = process.argv.slice(2);
const settings = loadSettings({ args: ['-c', config], env: process.env });
const controller = await Controller.start(settings, { log: new Logger(settings.logLevel) });
let edges = 0;
for (const chip of controller.chips.values()) {
  // After the bridge's own listener, which hands the edge to the connection.
  chip.on('edge', (edge) => {
    if (edge.source === 'host' && ++edges === Number(at)) process.kill(process.pid, 'SIGKILL');
  });
}
