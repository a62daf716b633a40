/**
 * The guest agent for tests: builds agent/ with its Makefile (so every test
 * run exercises the real build), and runs build/mqtt-send, the tool that
 * drives the agent's MQTT client from the host, as a child process whose
 * output a test can wait on.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { archProfile, type GuestArch } from './arch.ts';
import { ConsoleLog } from './console.ts';
import { repoRoot } from './kernel.ts';

export const agentDir = join(repoRoot, 'agent');

export interface AgentBuild {
  /** The static guest binary, for the architecture asked for. */
  agent: string;
  /** The host test tool built from the same MQTT client code. */
  mqttSend: string;
}

/** Runs `make` in agent/ with `args` (a no-op when up to date); throws with the compiler's output on failure. */
function make(args: string[]): void {
  try {
    execFileSync('make', ['-C', agentDir, '--no-print-directory', ...args], { encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    throw new Error(`building agent/ ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/**
 * Builds the agent for an `arch` guest (a cross build goes to
 * build/<triplet>/, see agent/Makefile) and mqtt-send for the host.
 */
export function buildAgent(arch: GuestArch = 'x86_64'): AgentBuild {
  make([]);
  const { crossCompile, kernelArch } = archProfile(arch);
  if (crossCompile !== '') make([`ARCH=${kernelArch}`]);
  const agentBuild = crossCompile === '' ? join(agentDir, 'build') : join(agentDir, 'build', crossCompile.replace(/-$/, ''));
  return { agent: join(agentBuild, 'vgpio-agent'), mqttSend: join(agentDir, 'build', 'mqtt-send') };
}

/** A running mqtt-send: write "QOS RETAIN TOPIC PAYLOAD" lines, wait on its stdout and stderr. */
export class MqttSend {
  readonly output = new ConsoleLog();
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #exit: Promise<number | null>;

  constructor(binary: string, args: string[]) {
    this.#child = spawn(binary, args, { stdio: 'pipe' });
    this.output.attach(this.#child.stdout);
    this.#child.stderr.setEncoding('utf8');
    this.#child.stderr.on('data', (text: string) => {
      this.output.append(`[stderr] ${text}`);
    });
    this.#child.stdin.on('error', () => {
      // The process was killed while a test was writing; the test's wait reports it.
    });
    this.#exit = new Promise((resolve) => {
      this.#child.once('exit', (code) => {
        resolve(code);
      });
    });
  }

  /** Queues one message; resolves with the tag the client gave it. */
  async publish(topic: string, payload: string, qos: 0 | 1, retain = false): Promise<number> {
    const queued = this.output.waitFor(/^queued (\d+)$/m, 5000);
    this.#child.stdin.write(`${qos} ${retain ? 1 : 0} ${topic} ${payload}\n`);
    return Number((await queued)[1]);
  }

  /** Ends input: the tool delivers what is pending, disconnects and exits. */
  async end(): Promise<number | null> {
    this.#child.stdin.end();
    return this.#exit;
  }

  /** SIGKILL: the connection drops without a DISCONNECT, as when a guest program dies. */
  async kill(): Promise<void> {
    this.#child.kill('SIGKILL');
    await this.#exit;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }
}
