/**
 * Starts one of the benchmark's helper scripts (the stand-in bridges) as a
 * process of its own through tsx and waits for the `ready` line it prints
 * once it is set up.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { repoRoot } from '../testkit/kernel.ts';

export interface ReadyChild {
  /** SIGTERM, and resolves once the process has exited. */
  stop(): Promise<void>;
}

export async function startReadyChild(script: string, args: string[], timeoutMs = 30_000): Promise<ReadyChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: repoRoot });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  let out = '';
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${script} was not ready within ${timeoutMs / 1000} s:\n${err}`)); }, timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('ready\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${script} exited (${String(code)}):\n${err}`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { stop };
}
