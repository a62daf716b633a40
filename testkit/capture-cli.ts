/**
 * `vgpio2mqtt capture` as a separate CLI process, as users run it: started,
 * waited for until it says it is recording, stopped by its own limits or
 * by a signal.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { until } from './vgpio-host.ts';

export const CLI = join(import.meta.dirname, '../bridge/cli.ts');

export interface CaptureProcess {
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
}

/** Starts `vgpio2mqtt capture <args> -c <config>` and resolves once it records. */
export async function startCapture(config: string, args: readonly string[]): Promise<CaptureProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'capture', ...args, '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  // Generous: the CLI loads under tsx on a shared, busy machine.
  await until('the capture to start recording', () => err.includes('capture: recording') || child.exitCode !== null, 60_000);
  assert.equal(child.exitCode, null, `capture ended early: ${err}`);
  return { stdout: () => out, stderr: () => err, exited, kill: (s) => child.kill(s) };
}

/** Runs `vgpio2mqtt <command> <args> -c <config>` to its end (play, or a capture that must fail). */
export async function runCli(config: string, command: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, command, ...args, '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}
