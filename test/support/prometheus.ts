/**
 * A real Prometheus for tests: started on a free 127.0.0.1 port with a
 * generated config that scrapes given targets every second, queried
 * through its HTTP API, killed and its data removed on stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../testkit/ports.ts';

export interface PromQueryResult {
  status: string;
  error?: string;
  data?: { resultType: string; result: unknown[] };
}

export class Prometheus {
  readonly url: string;
  readonly #child: ChildProcess;
  readonly #dir: string;
  #log = '';

  private constructor(url: string, child: ChildProcess, dir: string) {
    this.url = url;
    this.#child = child;
    this.#dir = dir;
    child.stderr?.on('data', (d: Buffer) => (this.#log += d.toString()));
  }

  static async start(job: string, targets: string[]): Promise<Prometheus> {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-prom-'));
    const port = await freePort();
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        `  - job_name: ${job}`,
        '    static_configs:',
        `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
        '',
      ].join('\n'),
    );
    const child = spawn(
      'prometheus',
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const prom = new Prometheus(`http://127.0.0.1:${port}`, child, dir);
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        if ((await fetch(`${prom.url}/-/ready`)).ok) return prom;
      } catch {
        // not listening yet
      }
      if (child.exitCode !== null || Date.now() > deadline) {
        const log = prom.#log;
        await prom.stop();
        throw new Error(`prometheus did not become ready:\n${log.slice(-4000)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async query(expr: string): Promise<PromQueryResult> {
    const response = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await response.json()) as PromQueryResult;
  }

  /** Waits until `expr` returns a non-empty result (or throws after `timeoutMs`). */
  async waitFor(expr: string, timeoutMs = 30_000): Promise<PromQueryResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = await this.query(expr);
      if (result.status === 'success' && (result.data?.result.length ?? 0) > 0) return result;
      if (Date.now() > deadline) throw new Error(`no result for ${expr} within ${timeoutMs} ms: ${JSON.stringify(result)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null) {
      const exited = new Promise((resolve) => this.#child.once('exit', resolve));
      this.#child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
