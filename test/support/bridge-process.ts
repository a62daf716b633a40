/**
 * `vgpio2mqtt start -c <config>` as a child process, as users run it, with
 * its stderr (the log) collected: resolves once the bridge has connected to
 * its MQTT broker. A bridge that exits or does not connect in time is
 * killed and the error carries its log, so no test leaves one behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from '../../testkit/capture-cli.ts';
import { until } from '../../testkit/until.ts';
import { bridgeConnected } from './bridge-log.ts';

export interface BridgeProcess {
  child: ChildProcess;
  /** Its stderr so far. */
  log: () => string;
}

export interface BridgeProcessOptions {
  /** 'pipe' keeps stdout open for the test to close (default: ignored). */
  stdout?: 'pipe' | 'ignore';
  /** Default 60 s: the CLI loads under tsx on a shared, busy machine. */
  timeoutMs?: number;
}

export async function startBridgeProcess(config: string, options: BridgeProcessOptions = {}): Promise<BridgeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'start', '-c', config], { stdio: ['ignore', options.stdout ?? 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  try {
    await until('the bridge to connect', () => bridgeConnected(log) || child.exitCode !== null, options.timeoutMs ?? 60_000);
    if (child.exitCode !== null) throw new Error(`the bridge exited with ${child.exitCode}`);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${log}`);
  }
  return { child, log: () => log };
}
