/**
 * A real clustered broker for tests: Debian 12's RabbitMQ 3.10 with its MQTT
 * plugin as a cluster of nodes on loopback, each a node of its own (name,
 * AMQP, distribution and MQTT ports, data and log folders under one
 * temporary folder, one shared Erlang cookie), joined with `rabbitmqctl
 * join_cluster`. The MQTT plugin of 3.10 keeps a persistent session's
 * subscription in a classic queue; a policy mirrors those queues on every
 * node (3.10's MQTT plugin cannot use quorum queues), so a session
 * survives the node it was on. Retained messages stay node-local in 3.10.
 *
 * The scripts under /usr/lib/rabbitmq/bin run as the calling user (the
 * /usr/sbin wrappers would switch to the rabbitmq user, who cannot read
 * the temporary folder).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';

const BIN = '/usr/lib/rabbitmq/bin';
const run = promisify(execFile);

export interface RabbitNode {
  readonly name: string;
  readonly mqttPort: number;
  readonly url: string;
}

interface NodeState extends RabbitNode {
  env: NodeJS.ProcessEnv;
  process: ChildProcess | undefined;
  log: string;
}

export class RabbitCluster {
  readonly #dir: string;
  readonly #nodes: NodeState[];

  private constructor(dir: string, nodes: NodeState[]) {
    this.#dir = dir;
    this.#nodes = nodes;
  }

  get nodes(): readonly RabbitNode[] {
    return this.#nodes;
  }

  /** Starts `count` nodes, joins them into one cluster and mirrors MQTT session queues on all of them. */
  static async start(count = 3): Promise<RabbitCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-rabbitmq-'));
    const home = join(dir, 'home');
    mkdirSync(home);
    // Nodes of one cluster share the Erlang cookie; rabbitmqctl reads it from $HOME too.
    writeFileSync(join(home, '.erlang.cookie'), `vgpio${process.pid}${Date.now()}`, { mode: 0o400 });
    const tag = `vgpio${process.pid}`;
    const nodes: NodeState[] = [];
    for (let index = 1; index <= count; index++) {
      const base = join(dir, `n${index}`);
      mkdirSync(base);
      const [amqp, dist, mqtt] = [await freePort(), await freePort(), await freePort()];
      writeFileSync(join(base, 'rabbitmq.conf'), [`listeners.tcp.default = 127.0.0.1:${amqp}`, `mqtt.listeners.tcp.default = 127.0.0.1:${mqtt}`, 'loopback_users = none', ''].join('\n'));
      const name = `${tag}n${index}@localhost`;
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        HOME: home,
        RABBITMQ_NODENAME: name,
        RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
        RABBITMQ_NODE_PORT: String(amqp),
        RABBITMQ_DIST_PORT: String(dist),
        RABBITMQ_MNESIA_BASE: join(base, 'mnesia'),
        RABBITMQ_LOG_BASE: join(base, 'log'),
        RABBITMQ_CONFIG_FILE: join(base, 'rabbitmq'),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(base, 'enabled_plugins'),
        RABBITMQ_PID_FILE: join(base, 'pid'),
        RABBITMQ_LOGS: '-',
        // An Erlang VM that dies writes erl_crash.dump into its working folder (the checkout) unless told where.
        ERL_CRASH_DUMP: join(base, 'erl_crash.dump'),
      };
      nodes.push({ name, mqttPort: mqtt, url: `mqtt://127.0.0.1:${mqtt}`, env, process: undefined, log: '' });
    }
    const cluster = new RabbitCluster(dir, nodes);
    try {
      await Promise.all(nodes.map(async (node) => cluster.#plugins(node)));
      await Promise.all(nodes.map(async (node) => cluster.#boot(node)));
      const [first, ...rest] = nodes;
      if (first === undefined) throw new Error('a cluster needs a node');
      for (const node of rest) {
        await cluster.ctl(node, 'stop_app');
        await cluster.ctl(node, 'join_cluster', first.name);
        await cluster.ctl(node, 'start_app');
      }
      await cluster.ctl(first, 'set_policy', '--apply-to', 'queues', 'mqtt-sessions', '^mqtt-subscription-', '{"ha-mode":"all","ha-sync-mode":"automatic"}');
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  async #plugins(node: NodeState): Promise<void> {
    await run(join(BIN, 'rabbitmq-plugins'), ['--offline', 'enable', 'rabbitmq_mqtt'], { env: node.env });
  }

  async #boot(node: NodeState): Promise<void> {
    const child = spawn(join(BIN, 'rabbitmq-server'), [], { env: node.env, stdio: ['ignore', 'pipe', 'pipe'] });
    node.process = child;
    const collect = (chunk: Buffer): void => {
      node.log = (node.log + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    // await_startup fails at once while the node is not yet registered with epmd: ask again until it answers.
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        await this.ctl(node, 'await_startup', '--timeout', '60');
        return;
      } catch (error) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`RabbitMQ node ${node.name} did not start: ${(error as Error).message}\n${node.log}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** Runs rabbitmqctl against `node`; resolves with its output. */
  async ctl(node: RabbitNode, ...args: string[]): Promise<string> {
    const state = this.#state(node);
    const { stdout } = await run(join(BIN, 'rabbitmqctl'), ['-n', state.name, ...args], { env: state.env, timeout: 120_000 });
    return stdout;
  }

  #state(node: RabbitNode): NodeState {
    const state = this.#nodes.find((n) => n.name === node.name);
    if (state === undefined) throw new Error(`no node ${node.name} in this cluster`);
    return state;
  }

  /** The pid of the node's Erlang VM (beam.smp), from its pid file. */
  pid(node: RabbitNode): number {
    return Number(readFileSync(this.#state(node).env.RABBITMQ_PID_FILE ?? '', 'utf8').trim());
  }

  /** `kill -9` of the node's Erlang VM: its clients' connections drop, as on a crash. */
  async kill(node: RabbitNode): Promise<void> {
    const state = this.#state(node);
    const child = state.process;
    process.kill(this.pid(node), 'SIGKILL');
    if (child?.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve));
    state.process = undefined;
  }

  /** Starts a killed node again: it rejoins the cluster it was in. */
  async restart(node: RabbitNode): Promise<void> {
    await this.#boot(this.#state(node));
  }

  /** Names of the running nodes of the cluster, as `node` sees them. */
  async running(node: RabbitNode): Promise<string[]> {
    const status = JSON.parse(await this.ctl(node, 'cluster_status', '--formatter', 'json')) as { running_nodes: string[] };
    return status.running_nodes;
  }

  async close(): Promise<void> {
    for (const node of this.#nodes) {
      if (node.process === undefined) continue;
      try {
        await this.kill(node);
      } catch {
        // Already gone.
      }
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
