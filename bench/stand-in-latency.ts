/**
 * Runs the stand-in bridge (bench/stand-in.ts) beside a HostRig's bridge,
 * as another peer of the same ivshmem server, and times its `.../set` ->
 * doorbell path the way commandLatency times the bridge's.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { repoRoot } from '../test/support/kernel.ts';
import { timeToDoorbell } from './host-paths.ts';
import type { HostRig } from './host-setup.ts';
import type { Summary } from './samples.ts';

/** Outside the bridge's base topic, so the bridge never sees these messages. */
const TOPIC = 'bench-stand-in/line/set';

export async function standInLatency(rig: HostRig, count: number): Promise<Summary> {
  const script = join(repoRoot, 'bench/stand-in.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, rig.url, join(rig.dir, 'board.sock'), TOPIC], { stdio: ['ignore', 'pipe', 'pipe'], cwd: repoRoot });
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`the stand-in bridge was not ready within 30 s:\n${err}`)); }, 30_000);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('ready\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the stand-in bridge exited (${String(code)}):\n${err}`));
      });
    });
    return await timeToDoorbell(rig, count, (i) => rig.commander.publishAsync(TOPIC, i % 2 === 0 ? 'ON' : 'OFF', { qos: 1 }).then(() => undefined));
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  }
}
