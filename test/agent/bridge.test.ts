/**
 * vgpio-agent through the real bridge: a Controller with the embedded
 * broker and a plain-mode chip that has an agent socket, and a TCG guest
 * started with exactly the options `qemuArgs(chip)` prints (ivshmem-plain
 * on the chip's shared memory, the virtio-serial port on the agent
 * socket), running vgpio.ko and the agent, on x86_64 and on arm64. Host
 * commands published with mosquitto_pub come back as the agent's edge
 * messages (seen by mosquitto_sub) with consecutive sequence numbers; the
 * guest's outputs become the lines' retained states; a closed agent
 * connection makes the chip's agent offline; the socket is 0600, replaces
 * a stale file, refuses a second owner and is removed on shutdown.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AgentSocket } from '../../bridge/agent/agent-socket.ts';
import { loadSettings } from '../../bridge/config/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { qemuArgs } from '../../bridge/qemu-args.ts';
import { buildVgpio, type ModuleBuild } from '../kernel/build-module.ts';
import { buildAgent, MqttSend } from '../support/agent.ts';
import { GUEST_ARCHES } from '../support/arch.ts';
import { ConsoleLog } from '../support/console.ts';
import { Guest } from '../support/guest.ts';
import { guestKernel } from '../support/kernel.ts';
import { MqttProbe } from '../support/mqtt-probe.ts';
import { freePort } from '../support/ports.ts';

const run = promisify(execFile);
const B = 'vt';
const CHIP = 'board';
const TOGGLES = 12;

interface AgentEdge {
  edge: string;
  source: string;
  seq: number;
  ts: number;
  request_seq: number;
  clock: string;
  line: number;
}

for (const arch of GUEST_ARCHES) describe(`vgpio-agent through the bridge's agent socket (embedded broker, ${arch} guest)`, () => {
  let dir: string;
  let agentPath: string;
  let port: number;
  let controller: Controller;
  let vgpio: ModuleBuild;
  let guest: Guest;
  let probe: MqttProbe;
  let mqttSend: string;
  const logs: string[] = [];

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
      - { line: 7, name: relay }
`,
    );
    // A socket file left by a bridge that died: bound, nobody listening. The bridge must replace it.
    execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', agentPath]);
    assert.ok(lstatSync(agentPath).isSocket());

    const settings = loadSettings({ args: ['-c', config], env: {} });
    controller = await Controller.start(settings, { log: new Logger('debug', 'bridge', (line) => logs.push(line)) });
    probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, [`${B}/#`]);

    const built = buildAgent(arch);
    mqttSend = built.mqttSend;
    vgpio = buildVgpio(guestKernel(undefined, arch).headersDir, arch);
    const chip = settings.chips[0] ?? assert.fail('no chip');
    guest = await Guest.boot({
      arch,
      modules: ['virtio_pci', 'virtio_console'],
      binaries: ['/usr/bin/gpioset'],
      files: [
        { dest: '/lib/vgpio.ko', src: vgpio.ko, mode: 0o644 },
        { dest: '/usr/bin/vgpio-agent', src: built.agent, mode: 0o755 },
      ],
      initCommands: [
        'insmod /lib/vgpio.ko poll_ms=1',
        // The button only: the other lines stay free for the guest's own outputs.
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

  it(`turns ${TOGGLES} host commands (mosquitto_pub .../set) into the agent's edges with consecutive sequence numbers`, async () => {
    const seen = new ConsoleLog();
    const sub: ChildProcess = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(port), '-d', '-v', '-t', `${B}/${CHIP}/button/edge`], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      if (sub.stdout === null) assert.fail('no stdout');
      seen.attach(sub.stdout);
      await seen.waitFor(/received SUBACK/, 5000);
      for (let i = 0; i < TOGGLES; i++) await pub(`${B}/${CHIP}/button/set`, 'TOGGLE');
      const agentEdges = (): AgentEdge[] =>
        seen.text
          .split('\n')
          .filter((l) => l.startsWith(`${B}/${CHIP}/button/edge {`))
          .map((l) => JSON.parse(l.slice(l.indexOf(' ') + 1)) as Partial<AgentEdge>)
          // The bridge publishes its own host-source edges on the same topic; the agent's carry the kernel's clock.
          .filter((e): e is AgentEdge => e.clock !== undefined)
          // QoS 1 is at-least-once: one kernel event (same seq and timestamp) may arrive twice after a reconnect; an invented edge has its own seq.
          .filter((e, i, all) => all.findIndex((o) => o.seq === e.seq && o.ts === e.ts) === i);
      const deadline = Date.now() + 60_000;
      while (agentEdges().length < TOGGLES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const edges = agentEdges();
      assert.equal(edges.length, TOGGLES, `agent edges seen by mosquitto_sub:\n${seen.tail(3000)}\nagent log:\n${await guest.exec('cat /tmp/agent.log')}`);
      const first = edges[0]?.seq ?? 0;
      edges.forEach((e, i) => {
        assert.equal(e.seq, first + i, `edge ${i}: sequence gap (dropped events)`);
        assert.equal(e.edge, i % 2 === 0 ? 'rising' : 'falling');
        assert.deepEqual([e.source, e.line, e.clock], ['guest', 0, 'monotonic']);
      });
    } finally {
      sub.kill();
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

  it('marks the chip\'s agent offline when an agent connection closes, will or not', async () => {
    // A second agent-like client on the same socket, with no will: only the bridge can say it went away.
    const from = probe.mark;
    const client = new MqttSend(mqttSend, ['--broker', `unix:${agentPath}`, '--client-id', 'no-will']);
    await client.output.waitFor(/^connected 1$/m, 10_000);
    const tag = await client.publish(`${B}/${CHIP}/agent`, 'online', 1, true);
    await client.output.waitFor(new RegExp(`^acked ${tag}$`, 'm'), 10_000);
    assert.equal(await client.end(), 0, 'a clean DISCONNECT: no will');
    await probe.waitFor(`${B}/${CHIP}/agent`, (p) => p === 'offline', 5000, from);
    assert.equal(await retained(`${B}/${CHIP}/agent`), 'offline');

    // QEMU goes away: the guest agent's connection closes.
    const beforeQuit = probe.mark;
    await guest.close();
    await probe.waitFor(`${B}/${CHIP}/agent`, (p) => p === 'offline', 10_000, beforeQuit);
    assert.equal(controller.agentSockets.get(CHIP)?.connections, 0);
  });

  it('removes the agent socket on shutdown', async () => {
    await controller.stop();
    assert.equal(existsSync(agentPath), false);
  });
});
