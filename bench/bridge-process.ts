/**
 * The bridge as users run it: the CLI in its own process with a generated
 * configuration. Knows when it came up (the first retained `bridge/state`
 * online), its resident memory, and how to stop it (SIGTERM, as systemd).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { repoRoot } from '../testkit/kernel.ts';
import { msSince } from './samples.ts';
import { Topics } from '../bridge/mqtt/topics.ts';

/** `dist`: the compiled CLI `npm start` runs; `source`: the TypeScript through tsx (for the quick test). */
export type BridgeBuild = 'dist' | 'source';

export interface BridgeProcessOptions {
  /** YAML configuration text. */
  config: string;
  dir: string;
  /** The broker to watch for `bridge/state` (the embedded one's URL, or the external broker's). */
  url: string;
  baseTopic: string;
  build: BridgeBuild;
  /** How long to wait for `bridge/state` online; 30 s unless given. */
  onlineWithinMs?: number;
}

export class BridgeProcess {
  readonly child: ChildProcess;
  /** Milliseconds from spawn to `bridge/state` online. */
  readonly startMs: number;
  readonly #logOf: () => string;

  private constructor(child: ChildProcess, startMs: number, logOf: () => string) {
    this.child = child;
    this.startMs = startMs;
    this.#logOf = logOf;
  }

  /** What the bridge logged so far (stderr). */
  get log(): string {
    return this.#logOf();
  }

  static async start(options: BridgeProcessOptions): Promise<BridgeProcess> {
    const configPath = join(options.dir, 'bridge.yaml');
    writeFileSync(configPath, options.config);
    const args = options.build === 'dist'
      ? [join(repoRoot, 'dist/bridge/cli.js'), 'start', '-c', configPath]
      : ['--import', 'tsx', join(repoRoot, 'bridge/cli.ts'), 'start', '-c', configPath];
    const started = process.hrtime.bigint();
    // VGPIO_BENCH_BRIDGE_ARGS: Node options for the bridge alone, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where its time goes.
    const nodeArgs = process.env.VGPIO_BENCH_BRIDGE_ARGS?.split(' ').filter((arg) => arg !== '') ?? [];
    const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', 'ignore', 'pipe'], cwd: repoRoot });
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const exited = once(child, 'exit').then(([code]) => {
      throw new Error(`the bridge exited (${String(code)}) before going online:\n${log}`);
    });
    try {
      await Promise.race([exited, BridgeProcess.#online(options, () => child.exitCode !== null)]);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    exited.catch(() => undefined);
    return new BridgeProcess(child, msSince(started), () => log);
  }

  /** Resolves when `bridge/state` says online (connecting as soon as the broker accepts). */
  static async #online(options: BridgeProcessOptions, gone: () => boolean): Promise<void> {
    const within = options.onlineWithinMs ?? 30_000;
    const deadline = Date.now() + within;
    for (;;) {
      if (gone() || Date.now() > deadline) throw new Error(`the bridge did not go online within ${within / 1000} s`);
      const client = await mqtt.connectAsync(options.url, { reconnectPeriod: 0, connectTimeout: 1000 }).catch(() => undefined);
      if (client === undefined) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      try {
        const online = new Promise<void>((resolve) => {
          client.on('message', (_topic, payload) => {
            if (payload.toString().includes('"online"')) resolve();
          });
        });
        await client.subscribeAsync(new Topics(options.baseTopic).bridgeState, { qos: 1 });
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([online, new Promise((_, reject) => (timer = setTimeout(() => { reject(new Error(`no bridge/state online within ${within / 1000} s`)); }, within)))]);
        } finally {
          clearTimeout(timer);
        }
        return;
      } finally {
        await client.endAsync();
      }
    }
  }

  /** Resident set size now, in MiB (VmRSS from /proc). */
  rssMiB(): number {
    const status = readFileSync(`/proc/${String(this.child.pid)}/status`, 'utf8');
    const kib = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    if (kib === undefined) throw new Error(`no VmRSS in /proc/${String(this.child.pid)}/status`);
    return Number(kib) / 1024;
  }

  /** SIGTERM and wait for exit; SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
