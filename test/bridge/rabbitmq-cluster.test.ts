/**
 * Three bridges on a real 3-node RabbitMQ 3.10 cluster (Debian 12's, MQTT
 * plugin, MQTT 3.1.1): each bridge is given all three nodes, starting at a
 * different one (mqtt.server as a list), and has a fake guest on one chip;
 * a checker on the third node drives every line of every bridge. Then the
 * first node is killed (kill -9 of its Erlang VM) while commands for its
 * bridge keep coming: the bridge fails over to the next node, its chip is
 * online again there, every command is applied once, and the killed node
 * rejoins when restarted. Figures (failover time, commands around it, what
 * each node's retained store holds) are printed: docs/deployment.md
 * quotes them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SharedMemory } from '../../native/index.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
// Raw MQTT (MqttProbe), not the typed client: it checks retained messages and sessions across a broker cluster.
import { MqttProbe, type Seen } from '../../testkit/mqtt-probe.ts';
import { RabbitCluster, type RabbitNode } from '../../testkit/rabbitmq.ts';
import { until } from '../../testkit/until.ts';

const LINES = 8;
/** QoS 1 TOGGLEs for the first bridge: some before the kill, the rest while its node is dead and after. */
const COMMANDS = 300;
const KILL_AFTER = 100;
const GAP_MS = 10;

interface Bridge {
  index: number;
  base: string;
  chip: string;
  controller: Controller;
  mem: SharedMemory;
  guest: FakeGuest;
  logs: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('three bridges on a 3-node RabbitMQ cluster, one node killed', { timeout: 300_000 }, () => {
  const started = Date.now();
  let dir: string;
  let cluster: RabbitCluster;
  let nodes: readonly RabbitNode[];
  const bridges: Bridge[] = [];
  let checker: MqttProbe;

  const node = (index: number): RabbitNode => {
    const found = nodes[index];
    if (found === undefined) throw new Error(`no node ${index}`);
    return found;
  };
  const bridge = (index: number): Bridge => {
    const found = bridges[index];
    if (found === undefined) throw new Error(`no bridge ${index}`);
    return found;
  };
  /** A 3.1.1 client of one node that sees (retained and live) everything the bridges publish. */
  const probeOn = (at: RabbitNode, clientId: string): Promise<MqttProbe> =>
    MqttProbe.connect(at.url, [0, 1, 2].flatMap((i) => [`rq${i}/#`, `ha${i}/#`]), { protocolVersion: 4, clientId });

  /** Every retained topic of bridge `b`: states, availability, bridge/state and bridge/info, and its discovery configs as the checker saw them published. */
  const retainedTopics = (b: Bridge): string[] => [
    ...Array.from({ length: LINES }, (_, line) => `${b.base}/${b.chip}/${line}`),
    `${b.base}/${b.chip}/availability`,
    `${b.base}/bridge/state`,
    `${b.base}/bridge/info`,
    ...new Set(checker.on(`ha${b.index}/#`).map((m) => m.topic)),
  ];
  /**
   * The retained messages a fresh client of node `at` gets for these exact
   * topics: RabbitMQ 3.10 sends none for a wildcard filter.
   */
  const retainedOn = async (at: RabbitNode, topics: string[]): Promise<Seen[]> => {
    const probe = await MqttProbe.connect(at.url, topics, { protocolVersion: 4 });
    await sleep(500);
    await probe.close();
    return probe.seen.filter((m) => m.retain);
  };

  before(async () => {
    cluster = await RabbitCluster.start(3);
    nodes = cluster.nodes;
    dir = mkdtempSync('/dev/shm/vgpio-rabbitmq-');
    // Subscribed before the bridges start: a node's retained store holds only what was published through it, so
    // the checker on node 3 sees the other bridges' states live, not retained.
    checker = await probeOn(node(2), 'checker');
    for (let index = 0; index < 3; index++) {
      // Bridge i starts at node i and fails over round the rest.
      const servers = [0, 1, 2].map((k) => node((index + k) % 3).url);
      const chip = `c${index}`;
      const base = `rq${index}`;
      const config = join(dir, `bridge${index}.yaml`);
      writeFileSync(
        config,
        `base_topic: ${base}
mqtt:
  server: [${servers.join(', ')}]
  client_id: vgpio2mqtt-rq${index}
  reconnect_ms: 500
  qos: 1
homeassistant: { enabled: true, discovery_prefix: ha${index} }
metrics: { port: 0 }
web: { enabled: false }
chips:
  - { name: ${chip}, mode: plain, shm: ${dir}/${chip}.shm, poll_ms: 5, ngpio: ${LINES} }
`,
      );
      const logs: string[] = [];
      const controller = await Controller.start(loadSettings({ args: ['-c', config], env: {} }), { log: new Logger('info', `bridge${index}`, (line) => logs.push(line)) });
      const mem = SharedMemory.open(join(dir, `${chip}.shm`));
      const guest = new FakeGuest(mem);
      guest.bind();
      bridges.push({ index, base, chip, controller, mem, guest, logs });
    }
    for (const b of bridges) await checker.waitFor(`${b.base}/${b.chip}/availability`, (p) => p === 'online', 20_000).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${b.logs.join('\n')}`);
    });
  });

  after(async () => {
    await checker.close();
    for (const b of bridges) {
      await b.controller.stop();
      b.mem.close();
    }
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects bridge i to node i first', () => {
    for (const b of bridges) {
      assert.ok(b.logs.some((l) => l.includes(`connected to MQTT broker ${node(b.index).url}`)), b.logs.join('\n'));
    }
  });

  it('drives every line of every bridge from a checker on the third node', async () => {
    for (const b of bridges) {
      for (let line = 0; line < LINES; line++) {
        const from = checker.mark;
        await checker.client.publishAsync(`${b.base}/${b.chip}/${line}/set`, 'ON', { qos: 1 });
        await until(`${b.chip} line ${line} ON in the guest`, () => b.guest.input(line) === 1);
        await checker.waitFor(`${b.base}/${b.chip}/${line}`, (p) => p === 'ON', 5000, from);
      }
    }
  });

  it('keeps retained topics on the node they were published through (RabbitMQ 3.10\'s retained store is node-local)', async (t) => {
    for (const at of [0, 1, 2]) {
      const counts: string[] = [];
      for (const b of bridges) {
        const topics = retainedTopics(b);
        const retained = await retainedOn(node(at), topics);
        counts.push(`bridge ${b.index + 1}: ${retained.length} of ${topics.length}`);
        // What the bridge connected to this node published is all there: states, availability, bridge/*, discovery.
        if (b.index === at) assert.deepEqual(retained.map((m) => m.topic).sort(), [...topics].sort(), `node ${at + 1}`);
      }
      t.diagnostic(`node ${at + 1} holds retained topics of ${counts.join(', ')}`);
    }
  });

  it(`fails over when its node is killed: ${COMMANDS} QoS 1 commands around the kill applied once each, chip online again on another node`, async (t) => {
    const b = bridge(0);
    const applied = (): number => b.controller.counters.total('commandApplied', b.chip, 'applied');
    const before = applied();
    const from = checker.mark;
    let killedAt = 0;
    let onlineAt = 0;
    const availability = `${b.base}/${b.chip}/availability`;
    const seeOnline = (topic: string, payload: Buffer): void => {
      if (killedAt > 0 && onlineAt === 0 && topic === availability && payload.toString() === 'online') onlineAt = Date.now();
    };
    checker.client.on('message', seeOnline);
    for (let sent = 0; sent < COMMANDS; sent++) {
      if (sent === KILL_AFTER) {
        killedAt = Date.now();
        await cluster.kill(node(0));
      }
      // The checker is on node 3, which stays up: each command is PUBACKed once the cluster took it.
      await checker.client.publishAsync(`${b.base}/${b.chip}/7/set`, 'TOGGLE', { qos: 1 });
      await sleep(GAP_MS);
    }
    const sentAll = Date.now();
    await checker.waitFor(availability, (p) => p === 'online', 30_000, from);
    checker.client.off('message', seeOnline);
    await until(`${COMMANDS} commands applied`, () => applied() - before >= COMMANDS, 30_000).catch(() => undefined);
    await sleep(1000);
    const count = applied() - before;
    const states = checker.on(`${b.base}/bridge/state`, from).map((m) => m.payload);
    const reconnected = b.logs.find((l, i) => i > 0 && l.includes('connected to MQTT broker') && !l.includes(node(0).url));
    t.diagnostic(`failover: node 1 killed -> ${availability} online again, seen on node 3, after ${onlineAt - killedAt} ms (all commands sent ${sentAll - killedAt} ms after the kill)`);
    t.diagnostic(`commands: ${COMMANDS} sent QoS 1 (PUBACKed by node 3), ${count} applied; bridge/state seen on node 3 since: ${states.join(' ') || 'nothing'}`);
    t.diagnostic(`bridge 1 log: ${b.logs.filter((l) => /MQTT|journal|acknowledg/.test(l)).slice(-6).join(' | ')}`);
    assert.ok(reconnected !== undefined, b.logs.join('\n'));
    assert.equal(count, COMMANDS, 'each command applied exactly once');
    assert.equal(b.guest.input(7), (1 + COMMANDS) % 2, 'line 7 toggled once per command (it was ON)');
  });

  it('republishes all its retained topics through the node it failed over to', async () => {
    const b = bridge(0);
    // Bridge 1 went round to node 2 (its list after node 1).
    const topics = retainedTopics(b);
    const retained = await retainedOn(node(1), topics);
    assert.deepEqual(retained.map((m) => m.topic).sort(), [...topics].sort());
    assert.ok(retained.some((m) => m.topic === `${b.base}/${b.chip}/availability` && m.payload === 'online'));
  });

  it('rejoins the killed node when it restarts, and the cluster serves it again', async (t) => {
    const restartedAt = Date.now();
    await cluster.restart(node(0));
    t.diagnostic(`node 1 restarted and rejoined in ${Date.now() - restartedAt} ms`);
    assert.deepEqual((await cluster.running(node(2))).sort(), nodes.map((n) => n.name).sort());
    const probe = await probeOn(node(0), 'rejoined');
    const b = bridge(2);
    const from = probe.mark;
    await checker.client.publishAsync(`${b.base}/${b.chip}/3/set`, 'OFF', { qos: 1 });
    await probe.waitFor(`${b.base}/${b.chip}/3`, (p) => p === 'OFF', 10_000, from);
    await probe.close();
    const stale = await retainedOn(node(0), retainedTopics(bridge(0)));
    t.diagnostic(`node 1 after its restart still holds ${stale.length} retained topics of bridge 1 from before the kill; its bridge/state: ${stale.find((m) => m.topic.endsWith('/bridge/state'))?.payload ?? 'none'}`);
    t.diagnostic(`cluster test took ${Math.round((Date.now() - started) / 1000)} s`);
  });
});
