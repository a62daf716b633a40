/**
 * A real Mosquitto broker for tests: Debian's `mosquitto` with a generated
 * config on a free 127.0.0.1 port (and, when asked, a unix socket),
 * anonymous access, no persistence. It can be stopped and started again on
 * the same port (a broker restart).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

export class Mosquitto {
  readonly port: number;
  /** The unix socket it also listens on, if started with `unix: true`. */
  readonly socketPath: string | undefined;
  readonly #dir: string;
  readonly #extra: string[];
  #process: ChildProcess | undefined;
  #log = '';

  private constructor(port: number, dir: string, unix: boolean, extra: string[]) {
    this.port = port;
    this.#dir = dir;
    this.socketPath = unix ? join(dir, 'mosquitto.sock') : undefined;
    this.#extra = extra;
  }

  /** `unix`: also listen on a unix socket; `extra`: more mosquitto.conf lines (e.g. `set_tcp_nodelay true`). */
  static async start(options: { unix?: boolean; extra?: string[] } = {}): Promise<Mosquitto> {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-mosquitto-'));
    // Started as root, mosquitto runs as its own user: it must be able to create its socket here.
    if (options.unix === true) chmodSync(dir, 0o777);
    const broker = new Mosquitto(await freePort(), dir, options.unix === true, options.extra ?? []);
    await broker.resume();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Starts mosquitto (again) on this broker's port; resolves once it accepts connections. */
  async resume(): Promise<void> {
    const conf = join(this.#dir, 'mosquitto.conf');
    const unix = this.socketPath === undefined ? [] : [`listener 0 ${this.socketPath}`];
    writeFileSync(conf, [`listener ${this.port} 127.0.0.1`, ...unix, 'allow_anonymous true', 'persistence false', ...this.#extra, ''].join('\n'));
    const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#process = child;
    const collect = (chunk: Buffer): void => {
      this.#log += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const deadline = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`mosquitto did not start on port ${this.port}:\n${this.#log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Kills mosquitto (SIGKILL: clients see the connection drop, as on a crash). */
  async stop(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (child?.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
