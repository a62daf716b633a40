/**
 * vgpio-agent through the real bridge: a Controller with the embedded
 * broker and a plain-mode chip that has an agent socket, and a TCG guest
 * started with exactly the options `qemuArgs(chip)` prints (ivshmem-plain
 * on the chip's shared memory, the virtio-serial port on the agent
 * socket), running vgpio.ko and the agent, on x86_64 and on arm64. One
 * press is exactly one message on each of the state, `edge`, `received`
 * and `agent/edge` topics, each in its documented shape; host commands
 * published with mosquitto_pub come back as the agent's edges with
 * consecutive sequence numbers; the driver's confirmations (`received`)
 * come for edges a guest consumer (the agent, edgemon) took and never for a
 * line nobody requested, and `vgpio2mqtt watch` shows them; the guest's
 * outputs become the lines' retained states; the agent's availability has
 * one producer, the agent (its will covers a dropped connection, the
 * bridge never publishes it); the socket is 0600, replaces a stale file,
 * refuses a second owner and is removed on shutdown.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AgentSocket } from '../../bridge/agent-link/agent-socket.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { qemuArgs } from '../../bridge/guest-setup/qemu-args.ts';
import { watch } from '../../bridge/cli/remote.ts';
import type { Settings } from '../../bridge/settings/types.ts';
import { buildVgpio, type ModuleBuild } from '../../testkit/build-module.ts';
import { buildEdgemon, chipByLabel } from '../../testkit/vgpio-host.ts';
import { buildAgent, MqttSend } from '../../testkit/agent.ts';
import { GUEST_ARCHES } from '../../testkit/arch.ts';
import { ConsoleLog } from '../../testkit/console.ts';
import { Guest } from '../../testkit/guest.ts';
import { guestKernel } from '../../testkit/kernel.ts';
// Raw MQTT (MqttProbe), not the typed client: the agent's topics (agent/edge, received), which the typed client does not speak.
import { MqttProbe } from '../../testkit/mqtt-probe.ts';
import { freePort } from '../../testkit/ports.ts';

const run = promisify(execFile);
const B = 'vt';
const CHIP = 'board';
const TOGGLES = 12;

interface AgentEdge {
  edge: string;
  seq: number;
  guest_ns: number;
  request_seq: number;
  clock: string;
  line: number;
}

/** Each key of a message and the type of its value, sorted: the documented shape. */
const shape = (payload: string): string[] =>
  Object.entries(JSON.parse(payload) as Record<string, unknown>)
    .map(([key, value]) => `${key}:${typeof value}`)
    .sort();

/** Long enough for a duplicate to show up behind a message under TCG and load; never a timing assertion. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 3000));

for (const arch of GUEST_ARCHES) describe(`vgpio-agent through the bridge's agent socket (embedded broker, ${arch} guest)`, () => {
  let dir: string;
  let agentPath: string;
  let port: number;
  let controller: Controller;
  let vgpio: ModuleBuild;
  let guest: Guest;
  let probe: MqttProbe;
  let mqttSend: string;
  let settings: Settings;
  const logs: string[] = [];
  /** Every publication on the chip's agent topic the broker handled: who published it (null: the bridge itself, through Aedes' API). */
  const agentTopicPublishers: (string | null)[] = [];

  const pub = async (topic: string, payload: string): Promise<void> => {
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-t', topic, '-m', payload]);
  };
  const retained = async (topic: string): Promise<string> => {
    const { stdout } = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-C', '1', '-W', '3', '--retained-only']);
    return stdout.trim();
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-agent-bridge-'));
    agentPath = join(dir, 'agent.sock');
    port = await freePort();
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `base_topic: ${B}
broker: { port: ${port} }
metrics: { port: null }
web: { enabled: false }
homeassistant: { enabled: false }
chips:
  - name: ${CHIP}
    mode: plain
    shm: ${dir}/board.shm
    agent_socket: ${agentPath}
    poll_ms: 5
    ngpio: 8
    lines:
      - { line: 0, name: button }
      - { line: 1, name: free }
      - { line: 2, name: mon }
      - { line: 7, name: relay }
`,
    );
    // A socket file left by a bridge that died: bound, nobody listening. The bridge must replace it.
    execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', agentPath]);
    assert.ok(lstatSync(agentPath).isSocket());

    settings = loadSettings({ args: ['-c', config], env: {} });
    controller = await Controller.start(settings, { log: new Logger('debug', 'bridge', (line) => logs.push(line)) });
    const broker = controller.broker ?? assert.fail('the embedded broker runs');
    broker.aedes.on('publish', (packet, client) => {
      if (packet.topic === `${B}/${CHIP}/agent`) agentTopicPublishers.push(client?.id ?? null);
    });
    probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, [`${B}/#`]);

    const built = buildAgent(arch);
    mqttSend = built.mqttSend;
    vgpio = buildVgpio(guestKernel(undefined, arch).headersDir, arch);
    const chip = settings.chips[0] ?? assert.fail('no chip');
    guest = await Guest.boot({
      arch,
      modules: ['virtio_pci', 'virtio_console'],
      binaries: ['/usr/bin/gpioset', '/usr/bin/gpiodetect'],
      files: [
        { dest: '/lib/vgpio.ko', src: vgpio.ko, mode: 0o644 },
        { dest: '/usr/bin/vgpio-agent', src: built.agent, mode: 0o755 },
        { dest: '/usr/bin/edgemon', src: buildEdgemon(dir, arch), mode: 0o755 },
      ],
      initCommands: [
        'insmod /lib/vgpio.ko poll_ms=1',
        // The button only: the other lines stay free for edgemon, the guest's own outputs, and nobody.
        `vgpio-agent --base ${B} --watch ${CHIP}:button --reconnect-max 2 --keepalive 5 > /tmp/agent.log 2>&1 &`,
      ],
      // Exactly what `vgpio2mqtt qemu-args board` prints.
      qemuArgs: qemuArgs(chip),
    });
  });

  after(async () => {
    await guest.close();
    await probe.close();
    await controller.stop();
    vgpio.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on the agent socket (0600, the stale file replaced) and logs the virtio-serial options', () => {
    assert.equal(lstatSync(agentPath).mode & 0o777, 0o600);
    const attach = logs.find((l) => l.includes(`chip ${CHIP}: attach QEMU with:`)) ?? assert.fail(logs.join('\n'));
    assert.ok(attach.includes(`-chardev socket,id=vgpio-${CHIP}-agent,path=${agentPath},reconnect=1 -device virtio-serial-pci -device virtserialport,chardev=vgpio-${CHIP}-agent,name=vgpio2mqtt`), attach);
  });

  it('refuses a second owner of the live agent socket', async () => {
    await assert.rejects(
      AgentSocket.listen({ path: agentPath, mode: 0o600, connection: () => undefined, closed: () => undefined }),
      /another server is listening on it/,
    );
    assert.ok(lstatSync(agentPath).isSocket(), 'the live socket is left alone');
  });

  it('carries the guest agent to the embedded broker: the agent is online', async () => {
    await probe.waitFor(`${B}/${CHIP}/agent`, (p) => p === 'online', 90_000).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\nguest console:\n${guest.console.tail(3000)}`);
    });
    assert.equal(await retained(`${B}/${CHIP}/agent`), 'online');
    assert.equal(controller.agentSockets.get(CHIP)?.connections, 1);
    assert.match(await guest.exec('cat /tmp/agent.log'), /connected to broker \/dev\/virtio-ports\/vgpio2mqtt/);
    assert.ok(logs.some((l) => l.includes('guest agent connected')));
  });

  it('turns one press into exactly one message on each of the state, edge, received and agent/edge topics, each in its documented shape', async (t) => {
    const from = probe.mark;
    // The next test starts from OFF whatever happens here.
    t.after(async () => {
      await pub(`${B}/${CHIP}/button/set`, 'OFF');
      await probe.waitFor(`${B}/${CHIP}/button/agent/edge`, (p) => p.includes('"falling"'), 60_000, from);
    });
    await pub(`${B}/${CHIP}/button/set`, 'ON');
    const line = `${B}/${CHIP}/button`;
    const wanted = [line, `${line}/edge`, `${line}/received`, `${line}/agent/edge`];
    for (const topic of wanted) {
      await probe.waitFor(topic, () => true, 60_000, from).catch(async (error: unknown) => {
        throw new Error(`${(error as Error).message}\nagent log:\n${await guest.exec('cat /tmp/agent.log')}`);
      });
    }
    await settle();
    // `<line>/#` covers the state topic `<line>` too.
    const under = probe.on(`${line}/#`, from);
    for (const topic of wanted) assert.equal(under.filter((m) => m.topic === topic).length, 1, `${topic}: ${JSON.stringify(under)}`);
    // Not `config` either: the driver's flow handler masks the line while it handles the interrupt, which is no change of configuration.
    const others = under.filter((m) => ![...wanted, `${line}/set`].includes(m.topic));
    assert.deepEqual(others, [], 'the press (its command on .../set aside) makes nothing else');
    const only = (topic: string): string => probe.on(topic, from)[0]?.payload ?? assert.fail(topic);
    assert.equal(only(line), 'ON');
    assert.deepEqual(shape(only(`${line}/edge`)), ['edge:string', 'seq:number', 'source:string', 'ts_ms:number']);
    assert.deepEqual(shape(only(`${line}/received`)), ['edge:string', 'guest_ns:number', 'ts_ms:number']);
    assert.deepEqual(shape(only(`${line}/agent/edge`)), ['clock:string', 'edge:string', 'guest_ns:number', 'line:number', 'request_seq:number', 'seq:number']);
    const edge = JSON.parse(only(`${line}/edge`)) as { edge: string; source: string; ts_ms: number };
    const received = JSON.parse(only(`${line}/received`)) as { edge: string; guest_ns: number; ts_ms: number };
    const agent = JSON.parse(only(`${line}/agent/edge`)) as AgentEdge;
    assert.deepEqual([edge.edge, edge.source], ['rising', 'host']);
    assert.equal(received.edge, 'rising');
    assert.deepEqual([agent.edge, agent.clock, agent.line], ['rising', 'monotonic', 0]);
    // ts_ms is the host's wall clock in milliseconds; guest_ns the guest's monotonic nanoseconds, the same clock for the driver and the agent.
    assert.ok(Math.abs(edge.ts_ms - Date.now()) < 3_600_000 && Math.abs(received.ts_ms - Date.now()) < 3_600_000, 'ts_ms is milliseconds since the epoch');
    assert.ok(received.ts_ms >= edge.ts_ms, 'the confirmation comes after the command');
    assert.ok(received.guest_ns >= agent.guest_ns, 'the driver makes its entry once the consumer\'s handler (whose timestamp the agent reports) has run');
  });

  it(`turns ${TOGGLES} host commands (mosquitto_pub .../set) into as many host edges, confirmations and agent edges, in order`, async () => {
    const seen = new ConsoleLog();
    const sub: ChildProcess = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(port), '-d', '-v', '-t', `${B}/${CHIP}/button/#`], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      if (sub.stdout === null) assert.fail('no stdout');
      seen.attach(sub.stdout);
      await seen.waitFor(/received SUBACK/, 5000);
      for (let i = 0; i < TOGGLES; i++) await pub(`${B}/${CHIP}/button/set`, 'TOGGLE');
      const on = (leaf: string): Record<string, unknown>[] =>
        seen.text
          .split('\n')
          .filter((l) => l.startsWith(`${B}/${CHIP}/button/${leaf} {`))
          .map((l) => JSON.parse(l.slice(l.indexOf(' ') + 1)) as Record<string, unknown>);
      const agentEdges = (): AgentEdge[] =>
        // QoS 1 is at-least-once: one kernel event (same seq and timestamp) may arrive twice after a reconnect; an invented edge has its own seq.
        (on('agent/edge') as unknown as AgentEdge[]).filter((e, i, all) => all.findIndex((o) => o.seq === e.seq && o.guest_ns === e.guest_ns) === i);
      const deadline = Date.now() + 60_000;
      while ((agentEdges().length < TOGGLES || on('received').length < TOGGLES) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await settle();
      const edges = agentEdges();
      assert.equal(edges.length, TOGGLES, `agent edges seen by mosquitto_sub:\n${seen.tail(3000)}\nagent log:\n${await guest.exec('cat /tmp/agent.log')}`);
      const first = edges[0]?.seq ?? 0;
      const expected = Array.from({ length: TOGGLES }, (_, i) => (i % 2 === 0 ? 'rising' : 'falling'));
      edges.forEach((e, i) => {
        assert.equal(e.seq, first + i, `edge ${i}: sequence gap (dropped events)`);
        assert.deepEqual([e.line, e.clock], [0, 'monotonic']);
      });
      assert.deepEqual(edges.map((e) => e.edge), expected);
      // The bridge's own topics: one host edge and one guest confirmation per command, never an agent's message.
      assert.deepEqual(on('edge').map((e) => [e.edge, e.source]), expected.map((e) => [e, 'host']));
      assert.deepEqual(on('received').map((e) => e.edge), expected);
      const guestNs = on('received').map((e) => e.guest_ns as number);
      assert.deepEqual(guestNs, [...guestNs].sort((a, b) => a - b), 'confirmations in the guest\'s order');
    } finally {
      sub.kill();
    }
  });

  it('confirms the edges edgemon took, never those of a line nobody requested, and `watch` shows the confirmations', async () => {
    const printed: string[] = [];
    const stopWatch = new AbortController();
    const watching = watch(settings, CHIP, undefined, (text) => printed.push(text), stopWatch.signal);
    try {
      // edgemon prints "<line_seqno> <level>" per edge it read and exits after two.
      await guest.exec(`( edgemon /dev/${await chipByLabel(guest, CHIP)} 2 2 both > /tmp/mon 2>&1 & )`);
      await guest.untilWaitingForInput('edgemon');
      await probe.waitFor(`${B}/${CHIP}/mon/config`, (p) => p.includes('"trigger":"both"'), 20_000);
      // watch subscribes to the states last: a retained state printed means it sees everything after it.
      const deadline = Date.now() + 20_000;
      while (!printed.some((l) => l.startsWith(`${B}/${CHIP}/mon `)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const from = probe.mark;
      // Nobody requested `free`: the host changes it, no guest handler takes the edge.
      await pub(`${B}/${CHIP}/free/set`, 'ON');
      await probe.waitFor(`${B}/${CHIP}/free/edge`, () => true, 10_000, from);
      for (const payload of ['ON', 'OFF']) await pub(`${B}/${CHIP}/mon/set`, payload);
      await probe.waitFor(`${B}/${CHIP}/mon/received`, (p) => p.includes('"falling"'), 60_000, from);
      const monitored = async (): Promise<string[]> => (await guest.exec('cat /tmp/mon')).trim().split('\n');
      const edgemonDone = Date.now() + 20_000;
      while ((await monitored()).length < 2 && Date.now() < edgemonDone) await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual((await monitored()).map((l) => l.split(' ')[1]), ['1', '0'], 'edgemon read the rise and the fall');
      // The ring is read in order and both lines share a bank: a confirmation for `free` would have come before mon's.
      await settle();
      assert.deepEqual(probe.on(`${B}/${CHIP}/free/received`, from), [], 'no confirmation for a line nobody requested');
      assert.deepEqual(probe.on(`${B}/${CHIP}/mon/received`, from).map((m) => (JSON.parse(m.payload) as { edge: string }).edge), ['rising', 'falling']);
      const counted = controller.counters.total('guestReceived', CHIP, 'mon');
      assert.equal(counted, 2, 'counted per line for vgpio2mqtt_guest_received_edges_total');
      assert.equal(controller.counters.total('guestReceived', CHIP, 'free'), 0);
      // watch is a connection of its own: under load its copy of the second confirmation may come after the probe's.
      const shownNow = (): string[] => printed.filter((l) => l.startsWith(`${B}/${CHIP}/mon/received {`));
      const watchDone = Date.now() + 10_000;
      while (shownNow().length < 2 && Date.now() < watchDone) await new Promise((r) => setTimeout(r, 50));
      const shown = shownNow();
      assert.equal(shown.length, 2, printed.join('\n'));
      assert.match(shown[0] ?? '', /"edge":"rising","guest_ns":\d+,"ts_ms":\d+/);
    } finally {
      stopWatch.abort();
      await watching;
    }
  });

  it('publishes what the guest drives on an output as the line\'s retained state', async () => {
    for (const [level, payload] of [[1, 'ON'], [0, 'OFF']] as const) {
      const from = probe.mark;
      await guest.exec(`gpioset ${CHIP} 7=${level}`);
      await probe.waitFor(`${B}/${CHIP}/relay`, (p) => p === payload, 20_000, from);
      assert.equal(await retained(`${B}/${CHIP}/relay`), payload);
    }
  });

  it('never publishes the agent\'s topic itself: a client that disconnects cleanly without a will leaves it as it was', async () => {
    const from = probe.mark;
    const client = new MqttSend(mqttSend, ['--broker', `unix:${agentPath}`, '--client-id', 'no-will']);
    await client.output.waitFor(/^connected 1$/m, 10_000);
    assert.equal(controller.agentSockets.get(CHIP)?.connections, 2);
    assert.equal(await client.end(), 0, 'a clean DISCONNECT: no will');
    const deadline = Date.now() + 10_000;
    while (controller.agentSockets.get(CHIP)?.connections !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(controller.agentSockets.get(CHIP)?.connections, 1, 'the connection closed');
    await settle();
    assert.deepEqual(probe.on(`${B}/${CHIP}/agent`, from), [], 'nobody said anything about the agent');
    assert.equal(await retained(`${B}/${CHIP}/agent`), 'online', 'the guest\'s agent is still there');
  });

  it('goes offline exactly once, by the agent\'s will, when QEMU quits and the agent\'s connection drops', async () => {
    const from = probe.mark;
    await guest.close();
    await probe.waitFor(`${B}/${CHIP}/agent`, (p) => p === 'offline', 20_000, from);
    const deadline = Date.now() + 10_000;
    while (controller.agentSockets.get(CHIP)?.connections !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(controller.agentSockets.get(CHIP)?.connections, 0);
    await settle();
    assert.deepEqual(probe.on(`${B}/${CHIP}/agent`, from).map((m) => m.payload), ['offline']);
    assert.equal(await retained(`${B}/${CHIP}/agent`), 'offline');
    // Everything on the topic came from the agent's own session (its online, and its will); none from the bridge.
    assert.deepEqual([...new Set(agentTopicPublishers)], [`vgpio-agent-${CHIP}`]);
    assert.ok(agentTopicPublishers.length >= 2, JSON.stringify(agentTopicPublishers));
  });

  it('removes the agent socket on shutdown', async () => {
    await controller.stop();
    assert.equal(existsSync(agentPath), false);
  });
});
