/**
 * The whole bridge against its embedded broker, with a plain-mode chip
 * (a shared-memory file, both sides polling) and a fake guest writing the
 * guest-owned words. Real mosquitto_pub/mosquitto_sub and mqtt.js clients
 * talk to it over TCP; every check reads shared memory or the broker.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { protocol, SharedMemory } from '../../native/index.ts';
import { loadSettings } from '../../bridge/settings/load.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { qemuArgs } from '../../bridge/guest-setup/qemu-args.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
// Raw MQTT (MqttProbe), not the typed client: it checks the bridge's topics, payloads and retain flags themselves.
import { MqttProbe } from '../../testkit/mqtt-probe.ts';
import { freePort } from '../../testkit/ports.ts';
import { until } from '../../testkit/vgpio-host.ts';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../bridge/cli.ts');
const B = 'vt';

describe('bridge with the embedded broker, plain-mode chip', () => {
  let dir: string;
  let config: string;
  let port: number;
  let controller: Controller;
  let mem: SharedMemory;
  let guest: FakeGuest;
  let probe: MqttProbe;
  const logs: string[] = [];

  const start = async (): Promise<Controller> => {
    const settings = loadSettings({ args: ['-c', config], env: {} });
    return Controller.start(settings, { log: new Logger('debug', 'bridge', (line) => logs.push(line)) });
  };
  const line = (n: number): { in: 0 | 1; pending: boolean } => ({ in: guest.input(n), pending: guest.pending(n) });
  const retained = async (topic: string): Promise<string> => {
    const { stdout } = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', topic, '-C', '1', '-W', '3', '--retained-only']);
    return stdout.trim();
  };
  const pub = async (topic: string, payload: string): Promise<void> => {
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-t', topic, '-m', payload]);
  };
  const cli = async (...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', CLI, ...args, '-c', config], { env: { PATH: process.env.PATH } });
      return { stdout, stderr, code: 0 };
    } catch (error) {
      const e = error as { stdout: string; stderr: string; code: number };
      return { stdout: e.stdout, stderr: e.stderr, code: e.code };
    }
  };
  /** Publishes a bad command and checks it was refused on bridge/event, counted, and changed nothing. */
  const refused = async (topic: string, payload: string, reason: RegExp): Promise<void> => {
    const before = guest.mem.load32(guest.bankOff + protocol.BANK_IN);
    const rejected = controller.counters.total('commandRejected');
    const from = probe.mark;
    await probe.publish(topic, payload);
    const event = await probe.waitFor(`${B}/bridge/event`, (p) => p.includes('command_rejected'), 5000, from);
    assert.match(event.payload, reason);
    assert.equal(controller.counters.total('commandRejected'), rejected + 1);
    assert.equal(guest.mem.load32(guest.bankOff + protocol.BANK_IN), before, 'a refused command changed nothing');
  };

  before(async () => {
    dir = mkdtempSync('/dev/shm/vgpio-bridge-test-');
    port = await freePort();
    config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `base_topic: ${B}
broker:
  port: ${port}
metrics: { port: 0 }
web: { enabled: false }
chips:
  - name: board
    mode: plain
    shm: ${dir}/board.shm
    poll_ms: 5
    lines:
      - { line: 0, name: button }
      - { line: 1, name: led, direction: output }
      - { line: 2, name: relay, inverted: true }
      - { line: 3, name: door, direction: output, debounce_ms: 150 }
      - { line: 4, name: bell, pulse_ms: 60 }
      - { line: 35, name: far }
    ngpio: 40
`,
    );
    controller = await start();
    mem = SharedMemory.open(join(dir, 'board.shm'));
    guest = new FakeGuest(mem);
    probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, [`${B}/#`, 'homeassistant/#']);
    await probe.waitFor(`${B}/bridge/state`, (p) => p === '{"state":"online"}');
  });

  after(async () => {
    await probe.close();
    await controller.stop();
    mem.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('announces itself: bridge/state online and bridge/info, both retained', async () => {
    assert.equal(await retained(`${B}/bridge/state`), '{"state":"online"}');
    const info = JSON.parse(await retained(`${B}/bridge/info`)) as { chips: { name: string; mode: string; ngpio: number }[]; broker: { mode: string } };
    assert.equal(info.broker.mode, 'embedded');
    assert.deepEqual(info.chips.map((c) => [c.name, c.mode, c.ngpio]), [['board', 'plain', 40]]);
  });

  it('publishes every line state and config from shared memory at start, retained', async () => {
    assert.equal(await retained(`${B}/board/button`), 'OFF');
    assert.equal(await retained(`${B}/board/relay`), 'ON', 'inverted: electrical 0 is ON');
    assert.equal(await retained(`${B}/board/39`), 'OFF', 'unnamed lines use their number');
    const cfg = JSON.parse(await retained(`${B}/board/button/config`)) as { direction: string; trigger: string };
    assert.equal(cfg.direction, 'input');
    assert.equal(cfg.trigger, 'none');
    assert.equal(await retained(`${B}/board/availability`), 'offline');
  });

  it('refuses commands while no guest driver is bound, changing nothing', async () => {
    await refused(`${B}/board/button/set`, 'ON', /no guest with a bound driver/);
    assert.equal(controller.counters.total('commandRejected', 'board', 'chip_offline'), 1);
  });

  it('follows the guest driver binding (guest_gen odd) to availability online', async () => {
    guest.bind();
    await probe.waitFor(`${B}/board/availability`, (p) => p === 'online');
  });

  it('applies a mosquitto_pub command to the in word and publishes the state read back, retained, with a host edge', async () => {
    const from = probe.mark;
    await pub(`${B}/board/button/set`, 'ON');
    await probe.waitFor(`${B}/board/button`, (p) => p === 'ON', 5000, from);
    assert.deepEqual(line(0), { in: 1, pending: false }, 'no interrupt: the guest asked for none');
    const edge = JSON.parse((await probe.waitFor(`${B}/board/button/edge`, () => true, 5000, from)).payload) as Record<string, unknown>;
    assert.deepEqual(Object.keys(edge).sort(), ['edge', 'seq', 'source', 'ts_ms']);
    assert.equal(edge.edge, 'rising');
    assert.equal(edge.source, 'host');
    assert.equal(typeof edge.seq, 'number');
    assert.ok(Math.abs((edge.ts_ms as number) - Date.now()) < 3_600_000, 'ts_ms: milliseconds since the epoch');
    assert.equal(await retained(`${B}/board/button`), 'ON');
    for (const payload of ['off', 'true', '0', 'HIGH', 'low']) await pub(`${B}/board/button/set`, payload);
    await probe.waitFor(`${B}/board/button`, (p) => p === 'OFF', 5000, probe.mark - 1);
    assert.equal(guest.input(0), 0);
  });

  it('raises interrupts the guest enabled and queues changes behind a pending one until the guest acks', async () => {
    guest.enableIrq(0, { rising: true, falling: true });
    await probe.publish(`${B}/board/button/set`, 'ON');
    await probe.waitFor(`${B}/board/button`, (p) => p === 'ON', 5000, probe.mark - 1);
    assert.deepEqual(line(0), { in: 1, pending: true });
    await probe.publish(`${B}/board/button/set`, 'OFF');
    await probe.publish(`${B}/board/button/set`, 'ON');
    const status = (await probe.request(B, 'get', { chip: 'board', line: 'button' })).data as { queued: number; state: string };
    assert.equal(status.queued, 2);
    assert.equal(status.state, 'ON');
    assert.equal(guest.ackRequested(0), true);
    const from = probe.mark;
    assert.deepEqual(guest.ack(), [0]);
    await probe.waitFor(`${B}/board/button`, (p) => p === 'OFF', 5000, from);
    assert.deepEqual(line(0), { in: 0, pending: true }, 'the next queued change raised the next interrupt');
    guest.ack();
    await probe.waitFor(`${B}/board/button`, (p) => p === 'ON', 5000, from);
    guest.ack();
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(guest.ackRequested(0), false);
    const edges = probe.on(`${B}/board/button/edge`, from).map((m) => (JSON.parse(m.payload) as { edge: string }).edge);
    assert.deepEqual(edges, ['falling', 'rising'], 'one edge per applied change, none lost, none invented');
  });

  it('publishes an edge for every queued change, also when two apply between two scans', async () => {
    // Rising only: a falling change raises no interrupt, so the change after it applies at once too.
    guest.enableIrq(0, { rising: true });
    await probe.publish(`${B}/board/button/set`, 'OFF');
    await probe.publish(`${B}/board/button/set`, 'ON');
    await until('ON applied with an interrupt', () => guest.input(0) === 1 && guest.pending(0));
    await probe.publish(`${B}/board/button/set`, 'OFF');
    await probe.publish(`${B}/board/button/set`, 'ON');
    const status = (await probe.request(B, 'get', { chip: 'board', line: 'button' })).data as { queued: number };
    assert.equal(status.queued, 2);
    const from = probe.mark;
    guest.ack(); // the next poll applies OFF (no interrupt) and ON (interrupt) in one go
    await until('both queued changes applied', () => guest.pending(0) && !guest.ackRequested(0));
    await probe.waitFor(`${B}/board/button/edge`, (p) => p.includes('rising'), 5000, from);
    const edges = probe.on(`${B}/board/button/edge`, from).map((m) => (JSON.parse(m.payload) as { edge: string }).edge);
    assert.deepEqual(edges, ['falling', 'rising']);
    guest.ack();
    guest.enableIrq(0, { rising: true, falling: true });
  });

  it('coalesces the states of one turn to each line\'s last level, and still publishes every edge', async () => {
    // Four changes of a line with no interrupt enabled, in one synchronous run (as a socket read of many commands is).
    const chip = controller.chips.get('board') ?? assert.fail('no chip');
    const far = chip.line('far') ?? assert.fail('no line far');
    const from = probe.mark;
    for (const level of [1, 0, 1, 0] as const) {
      const outcome = chip.command(far, { target: { kind: 'level', level }, pulseMs: null });
      assert.ok(outcome.ok && outcome.result === 'applied', JSON.stringify(outcome));
    }
    await probe.waitFor(`${B}/board/far`, (p) => p === 'OFF', 5000, from);
    await probe.request(B, 'health', {}); // a round trip: anything the bridge published before its answer has arrived
    const edges = probe.on(`${B}/board/far/edge`, from).map((m) => (JSON.parse(m.payload) as { edge: string }).edge);
    assert.deepEqual(edges, ['rising', 'falling', 'rising', 'falling'], 'one edge per change');
    // The first state of the turn at once, then the line's last level at the turn's end.
    assert.deepEqual(probe.on(`${B}/board/far`, from).map((m) => m.payload), ['ON', 'OFF']);
    assert.equal(await retained(`${B}/board/far`), 'OFF');
  });

  it('toggles, honours inverted lines and pulses', async () => {
    let from = probe.mark;
    await probe.publish(`${B}/board/button/set`, 'TOGGLE');
    await probe.waitFor(`${B}/board/button`, (p) => p === 'OFF', 5000, from);
    guest.ack();

    from = probe.mark;
    await probe.publish(`${B}/board/relay/set`, 'OFF');
    await probe.waitFor(`${B}/board/relay`, (p) => p === 'OFF', 5000, from);
    assert.equal(guest.input(2), 1, 'inverted: OFF drives the line high');

    from = probe.mark;
    await probe.publish(`${B}/board/button/set`, '{"state":"ON","pulse_ms":40}');
    await probe.waitFor(`${B}/board/button`, (p) => p === 'ON', 5000, from);
    guest.ack();
    await probe.waitFor(`${B}/board/button`, (p) => p === 'OFF', 5000, from);
    guest.ack();

    from = probe.mark;
    await probe.publish(`${B}/board/bell/set`, 'ON');
    await probe.waitFor(`${B}/board/bell`, (p) => p === 'OFF', 5000, probe.mark);
    assert.deepEqual(probe.on(`${B}/board/bell`, from).map((m) => m.payload), ['ON', 'OFF'], 'pulse_ms in the line config makes ON a pulse');
    assert.equal(guest.input(4), 0);
  });

  it('publishes the guest\'s confirmations of input edges (EV_INPUT_EDGE) on .../received, in logical terms, and counts them', async () => {
    const from = probe.mark;
    const before = controller.counters.total('guestReceived', 'board', 'relay');
    // relay is inverted: electrical 1 after the edge is a falling edge to MQTT users.
    guest.append(2, protocol.EV_INPUT_EDGE, 1);
    guest.append(2, protocol.EV_INPUT_EDGE, 0);
    const seen = async (): Promise<Record<string, unknown>[]> => {
      await probe.waitFor(`${B}/board/relay/received`, (p) => p.includes('"rising"'), 5000, from);
      return probe.on(`${B}/board/relay/received`, from).map((m) => JSON.parse(m.payload) as Record<string, unknown>);
    };
    const received = await seen();
    assert.deepEqual(received.map((r) => r.edge), ['falling', 'rising']);
    for (const r of received) {
      assert.deepEqual(Object.keys(r).sort(), ['edge', 'guest_ns', 'ts_ms']);
      assert.equal(typeof r.guest_ns, 'number');
      assert.equal(typeof r.ts_ms, 'number');
    }
    assert.equal(probe.on(`${B}/board/relay/received`, from).some((m) => m.retain), false, 'not retained');
    assert.equal(probe.on(`${B}/board/relay/edge`, from).length, 0, 'a confirmation is not an edge');
    assert.equal(controller.counters.total('guestReceived', 'board', 'relay') - before, 2);
  });

  it('publishes config when the guest enables or disables an interrupt, not when its flow handler masks the line around an interrupt', async () => {
    const topic = `${B}/board/button/config`;
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 100)); // 20 polls
    guest.disableIrq(0);
    await settle();
    let from = probe.mark;
    guest.enableIrq(0, { rising: true });
    await probe.waitFor(topic, (p) => p.includes('"enabled":true'), 5000, from);
    from = probe.mark;
    for (let i = 0; i < 3; i++) {
      guest.maskIrq(0, true);
      await settle();
      guest.maskIrq(0, false);
      await settle();
    }
    assert.deepEqual(probe.on(topic, from).map((m) => m.payload), [], 'a transient mask is no change of configuration');
    guest.disableIrq(0);
    await probe.waitFor(topic, (p) => p.includes('"enabled":false'), 5000, from);
    await settle();
    assert.equal(probe.on(topic, from).length, 1, 'one config for the disable');
    assert.match(await retained(topic), /"enabled":false/);
  });

  it('publishes guest-driven outputs from the event ring and the banks, with guest edges', async () => {
    const from = probe.mark;
    guest.setDirection(1, true);
    guest.setOutput(1, 1);
    await probe.waitFor(`${B}/board/led`, (p) => p === 'ON', 5000, from);
    const edge = JSON.parse((await probe.waitFor(`${B}/board/led/edge`, () => true, 5000, from)).payload) as Record<string, unknown>;
    assert.equal(edge.source, 'guest');
    assert.equal(edge.edge, 'rising');
    assert.equal(typeof edge.guest_ns, 'number');
    const cfg = await probe.waitFor(`${B}/board/led/config`, (p) => p.includes('"direction":"output"'), 5000, from);
    assert.equal(cfg.retain, false, 'live publication (retained on the broker)');
    assert.match(await retained(`${B}/board/led/config`), /"direction":"output"/);
    // An output change the ring missed (the guest dropped it) still shows up from the banks.
    guest.setOutput(1, 0, false);
    await probe.waitFor(`${B}/board/led`, (p) => p === 'OFF', 5000, from);
  });

  it('debounces a guest-driven line: publishes its state once it is stable', async () => {
    guest.setDirection(3, true);
    const from = probe.mark;
    guest.setOutput(3, 1);
    await new Promise((r) => setTimeout(r, 20));
    guest.setOutput(3, 0);
    await new Promise((r) => setTimeout(r, 20));
    guest.setOutput(3, 1);
    await probe.waitFor(`${B}/board/door`, (p) => p === 'ON', 5000, from);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(probe.on(`${B}/board/door`, from).map((m) => m.payload), ['ON'], 'one state after the bounce');
    assert.equal(probe.on(`${B}/board/door/edge`, from).length, 3, 'every edge is still reported');
  });

  it('refuses a set on a guest-driven line', async () => {
    await refused(`${B}/board/led/set`, 'ON', /configured as an output the guest drives/);
    guest.setDirection(5, true);
    await new Promise((r) => setTimeout(r, 30));
    await refused(`${B}/board/5/set`, 'ON', /an output in the guest/);
    assert.equal(controller.counters.total('commandRejected', 'board', 'not_host_driven'), 2);
  });

  it('refuses unknown chips and lines, malformed, mistyped and oversized payloads', async () => {
    await refused(`${B}/nochip/button/set`, 'ON', /no chip \\"nochip\\"/);
    await refused(`${B}/board/nosuch/set`, 'ON', /has no line \\"nosuch\\"/);
    await refused(`${B}/board/40/set`, 'ON', /has no line \\"40\\"/);
    await refused(`${B}/board/button/set`, 'PRESSED', /not a command; allowed: ON, OFF/);
    await refused(`${B}/board/button/set`, '', /empty payload/);
    await refused(`${B}/board/button/set`, '{"state":', /not valid JSON/);
    await refused(`${B}/board/button/set`, '{"state":5}', /\\"state\\" .* is not a level/);
    await refused(`${B}/board/button/set`, '{"state":"ON","pulse_ms":"long"}', /pulse_ms.*allowed: an integer/);
    await refused(`${B}/board/button/set`, '{"state":"ON","colour":"red"}', /unknown JSON field/);
    await refused(`${B}/board/button/set`, '["ON"]', /must be an object/);
    await refused(`${B}/board/button/set`, 'ON'.padEnd(300, ' x'), /300 bytes; at most 256/);
    assert.equal(controller.counters.total('commandRejected', 'board', 'bad_payload'), 8);
    assert.equal(controller.counters.total('commandRejected', 'board', 'unknown_line'), 2);
  });

  it('answers bridge requests with the transaction echoed', async () => {
    const chips = await probe.request(B, 'chips', {});
    assert.equal(chips.status, 'ok');
    const list = chips.data as { name: string; online: boolean; lines: { name: string; state: string }[] }[];
    const board = list[0] ?? assert.fail('no chip listed');
    assert.equal(board.name, 'board');
    assert.equal(board.online, true);
    assert.equal(board.lines.find((l) => l.name === 'relay')?.state, 'OFF');

    const set = await probe.request(B, 'set', { chip: 'board', line: 'far', state: 'ON' });
    assert.equal(set.status, 'ok');
    assert.equal((set.data as { state: string }).state, 'ON');
    assert.equal(guest.input(35), 1, 'line 35 lives in bank 1');

    const get = await probe.request(B, 'get', { chip: 'board', line: 35 });
    assert.equal((get.data as { name: string; state: string }).name, 'far');
    assert.equal((get.data as { state: string }).state, 'ON');

    const health = await probe.request(B, 'health', {});
    assert.equal((health.data as { healthy: boolean }).healthy, true);
    assert.equal((health.data as { chips: Record<string, { online: boolean }> }).chips.board?.online, true);

    for (const [command, body, error, reason] of [
      ['get', { chip: 'board', line: 'nosuch' }, /has no line/, 'unknown_line'],
      ['get', { chip: 'x/+' , line: 0 }, /no chip/, 'bad_topic'],
      ['get', { chip: 'board' }, /"line" must be/, 'bad_request'],
      ['set', { chip: 'board', line: 'led', state: 'ON' }, /guest drives/, 'not_host_driven'],
      ['set', { chip: 'board', line: 'button', state: 'maybe' }, /not a level/, 'bad_payload'],
      ['reboot', {}, /unknown request "reboot"; allowed: chips, get, set, health/, 'bad_request'],
      ['get', { chip: 'board', line: 0, extra: 1 }, /unknown field "extra"/, 'bad_request'],
    ] as const) {
      const response = await probe.request(B, command, body);
      assert.equal(response.status, 'error', `${command} ${JSON.stringify(body)}`);
      assert.match(String(response.error), error);
      assert.equal(response.reason, reason, `${command} ${JSON.stringify(body)}: the reason code`);
      assert.equal(typeof response.transaction, 'string');
    }
    const from = probe.mark;
    await probe.publish(`${B}/bridge/request/get`, 'not json');
    const answer = JSON.parse((await probe.waitFor(`${B}/bridge/response/get`, () => true, 5000, from)).payload) as { status: string; error: string; reason: string };
    assert.equal(answer.status, 'error');
    assert.match(answer.error, /not valid JSON/);
    assert.equal(answer.reason, 'bad_request');
  });

  it('survives a guest that writes garbage into shared memory', async () => {
    const ringOff = mem.load32(protocol.HDR_RING_OFF);
    let from = probe.mark;
    // A head far past the ring: reported, skipped, nothing replayed.
    mem.store32(ringOff + protocol.RING_HEAD, mem.load32(ringOff + protocol.RING_TAIL) + 100000);
    await probe.waitFor(`${B}/bridge/event`, (p) => p.includes('event ring head'), 5000, from);
    // Entries for a line that does not exist and a kind nobody knows.
    from = probe.mark;
    guest.append(999, protocol.EV_OUTPUT, 1);
    guest.append(1, 77, 1);
    await probe.waitFor(`${B}/bridge/event`, (p) => p.includes('2 event-ring entries'), 5000, from);
    // Host-owned header words overwritten: restored, reported.
    from = probe.mark;
    mem.store32(protocol.HDR_BANK_OFF, 0xdeadbeef);
    mem.store32(protocol.HDR_NGPIO, 5000);
    await probe.waitFor(`${B}/bridge/event`, (p) => p.includes('host-owned words were overwritten'), 5000, from);
    assert.notEqual(mem.load32(protocol.HDR_BANK_OFF), 0xdeadbeef);
    assert.equal(mem.load32(protocol.HDR_NGPIO), 40);
    // Guest words full of ones on input lines change nothing the host drives.
    const bank1 = guest.bankOff + protocol.BANK_STRIDE;
    mem.store32(bank1 + protocol.BANK_OUT, 0xffffffff);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await retained(`${B}/board/far`), 'ON');
    assert.equal(controller.counters.total('ringResync', 'board'), 1);
    assert.equal(controller.counters.total('ringInvalid', 'board'), 2);
    const health = await probe.request(B, 'health', {});
    assert.equal(health.status, 'ok', 'still answering');
  });

  it('announces Home Assistant device discovery, re-announces on homeassistant/status online and removes stale entities', async () => {
    const device = 'homeassistant/device/vgpio2mqtt_vt_board/config';
    const board = JSON.parse(await retained(device)) as { cmps: Record<string, Record<string, unknown>> };
    assert.equal(board.cmps.line0?.p, 'switch');
    assert.equal(board.cmps.line0.command_topic, `${B}/board/button/set`);
    assert.equal(board.cmps.line0.state_topic, `${B}/board/button`);
    assert.equal(board.cmps.line1?.p, 'binary_sensor');
    assert.equal(board.cmps.line1.state_topic, `${B}/board/led`);
    assert.deepEqual(board.cmps.line1_edge?.event_types, ['rising', 'falling']);

    const from = probe.mark;
    await pub('homeassistant/status', 'online');
    await probe.waitFor(device, (p) => p !== '', 5000, from);

    // A per-entity config of this bridge's earlier version for a line no longer there: removed.
    const stale = 'homeassistant/switch/vgpio2mqtt_vt_board/line9/config';
    await probe.publish(stale, JSON.stringify({ name: 'x', unique_id: 'old', origin: { name: 'vgpio2mqtt' }, availability: [{ topic: `${B}/bridge/state` }] }), true);
    await probe.waitFor(stale, (p) => p === '', 5000, from);
    const foreign = 'homeassistant/switch/someone_else/x/config';
    await probe.publish(foreign, JSON.stringify({ name: 'x', origin: { name: 'other' } }), true);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(probe.on(foreign, from).filter((m) => m.payload === '').length, 0, 'other tools\' entities are left alone');
    await probe.publish(foreign, '', true);
  });

  it('get/set/watch from the CLI talk to the running bridge; qemu-args prints the plain-mode options', async () => {
    const set = await cli('set', 'board', 'far', 'OFF');
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout.trim(), 'OFF');
    assert.equal(guest.input(35), 0);
    const get = await cli('get', 'board', 'far');
    assert.equal(get.stdout.trim(), 'OFF');
    const bad = await cli('set', 'board', 'led', 'ON');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /guest drives/);
    const wild = await cli('get', 'board', 'a+b');
    assert.notEqual(wild.code, 0);
    assert.match(wild.stderr, /must not contain \+, #, \/ or NUL/);

    const watcher = spawn(process.execPath, ['--import', 'tsx', CLI, 'watch', 'board', 'far', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    watcher.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const seen = async (text: string): Promise<void> => {
      for (let i = 0; i < 100 && !out.includes(text); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(out.includes(text), `watch printed ${JSON.stringify(text)}; got ${JSON.stringify(out)}`);
    };
    await seen(`${B}/board/far OFF`); // the retained state
    await probe.publish(`${B}/board/far/set`, 'ON');
    await seen(`${B}/board/far ON`);
    await seen(`${B}/board/far/edge {"edge":"rising","source":"host"`);
    const exited = new Promise<number | null>((resolve) => watcher.once('exit', resolve));
    watcher.kill('SIGINT');
    assert.equal(await exited, 0);

    const qemu = await cli('qemu-args', 'board');
    const expected = qemuArgs(controller.settings.chips[0] ?? assert.fail()).join(' ');
    assert.equal(qemu.stdout.trim(), expected);
    assert.match(expected, /memory-backend-file,id=vgpio-board,share=on,mem-path=.*board\.shm,size=8192 -device ivshmem-plain,memdev=vgpio-board/);
  });

  it('restarts keeping every level: re-attaches to shared memory and republishes', async () => {
    await controller.stop();
    assert.equal(await retained(`${B}/bridge/state`).catch(() => 'broker gone'), 'broker gone', 'the embedded broker went with the bridge');
    assert.equal(guest.input(2), 1, 'levels stay in shared memory');
    assert.ok(existsSync(join(dir, 'board.shm')));
    logs.length = 0;
    controller = await start();
    await probe.close();
    probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, [`${B}/#`]);
    await probe.waitFor(`${B}/board/availability`, (p) => p === 'online');
    assert.equal(controller.chips.get('board')?.reattached, true);
    assert.ok(logs.some((l) => l.includes('re-attached to shared memory')));
    assert.equal(await retained(`${B}/board/relay`), 'OFF');
    assert.equal(guest.input(2), 1);
  });
});
