/**
 * A bounded fuzz run (well under 60 s) against a real bridge process with
 * its embedded broker and a plain-mode chip whose fake guest is bound:
 * random topics under the base topic, random payloads (bytes, words, JSON,
 * large), random request bodies, QoS 0 and 1. None of them is a valid
 * command (the bridge's own payload parser is the oracle), so afterwards:
 * the bridge still runs and answers, no line changed, every `/set` message
 * was answered exactly once on `bridge/event`, every request exactly once
 * on its response topic, the bridge never answered its own publications,
 * and its RSS stayed bounded. Then what must close or refuse a client
 * instead of answering it: WebSockets and page requests with fuzzed foreign
 * `Origin` and `Host` headers (403), topics holding U+0000 (the connection
 * closes), MQTT 5 CONNECTs (CONNACK 1), and a subscriber that stops
 * reading under a flood (disconnected); no line changes and the bridge
 * still serves. The seed is fixed (VGPIO_FUZZ_SEED overrides it) so a
 * failure can be replayed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SharedMemory } from '../../native/index.ts';
import { parseCommand } from '../../bridge/mqtt/payload.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
// Raw MQTT (MqttProbe), not the typed client: it feeds the bridge malformed and hostile input and checks its raw answers.
import { MqttProbe } from '../../testkit/mqtt-probe.ts';
import { freePort } from '../../testkit/ports.ts';
import { rssBytes } from '../../testkit/rss.ts';
import { until } from '../../testkit/vgpio-host.ts';
import { packets, RawClient } from '../support/raw-mqtt.ts';
import { getStatus, handshake } from '../support/web-requests.ts';

const CLI = join(import.meta.dirname, '../../bridge/cli.ts');
const B = 'fz';
const CHIP = 'fz0';
const NGPIO = 16;
const INPUTS = ['in0', 'in1', 'in2', 'in3'];
const OUTPUTS = ['out4', 'out5'];
const MESSAGES = 2400;
const BATCH = 100;
const SEED = Number(process.env.VGPIO_FUZZ_SEED ?? 16);
const MiB = 1 << 20;
const LINE_DEFAULTS = { payloadOn: 'ON', payloadOff: 'OFF', pulseMs: null };

/** mulberry32: a small seeded PRNG, so a run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Fuzz {
  readonly #random: () => number;
  constructor(seed: number) {
    this.#random = prng(seed);
  }

  int(n: number): number {
    return Math.floor(this.#random() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  bytes(n: number): Buffer {
    return Buffer.from(Array.from({ length: n }, () => this.int(256)));
  }

  /**
   * A topic level: names, numbers, unicode, junk; never + or # (not
   * publishable), never U+0000 (it closes the connection: the second
   * test) and never empty here.
   */
  level(): string {
    return this.pick([
      () => this.pick([...INPUTS, ...OUTPUTS]),
      () => String(this.int(40) - 4),
      () => 'é☃x'.slice(this.int(3)),
      () => this.bytes(1 + this.int(12)).toString('base64').replace(/[/+#]/g, '_'),
      () => ' padded ',
      () => 'x'.repeat(1 + this.int(300)),
      () => 'bridge',
    ])();
  }

  value(depth = 0): unknown {
    return this.pick([
      () => this.int(1 << 30) - (1 << 29),
      () => this.pick(['ON', 'OFF', 'TOGGLE', 'on', 'maybe', '', 'null']),
      () => this.random() * 1e12,
      () => this.pick([true, false, null]),
      () => (depth > 2 ? [] : Array.from({ length: this.int(4) }, () => this.value(depth + 1))),
      () => (depth > 2 ? {} : Object.fromEntries(Array.from({ length: this.int(4) }, () => [this.level(), this.value(depth + 1)]))),
    ])();
  }

  random(): number {
    return this.#random();
  }

  /** A host name a foreign site could have: junk, a look-alike of the listener's, or none. */
  foreignHost(): string {
    return this.pick([
      () => 'evil.example',
      () => `127.0.0.1.${this.bytes(3).toString('hex')}.example`,
      () => `localhost.${this.level().toLowerCase().replace(/[^a-z0-9]/g, 'x') || 'x'}`,
      () => `${this.int(256)}.${this.int(256)}.${this.int(256)}.${this.int(256)}`,
      () => 'xn--80ak6aa92e.com',
    ])();
  }

  /** A payload of any family; the caller filters out valid commands. */
  payload(): Buffer {
    return this.pick([
      () => this.bytes(this.int(64)),
      () => Buffer.from(this.pick(['ON ', ' off', 'Toggle', '2', '-1', 'truee', 'high\n', '{', '[]', '{"state":}', 'null', ''])),
      () => Buffer.from(JSON.stringify({ state: this.value(), pulse_ms: this.value(), [this.level()]: this.value() })),
      () => Buffer.from(JSON.stringify(this.value())),
      () => Buffer.alloc(this.pick([300, 4096, 70_000]), this.pick(['O', '{', ' '])),
    ])();
  }
}

interface Message {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  /** Where the answer is expected: `bridge/event` (set) or the response topic (request). */
  answer: 'event' | 'response';
}

/** Builds the messages: every one a bad command or a request the bridge must refuse or answer without changing a line. */
function messages(fuzz: Fuzz): Message[] {
  const out: Message[] = [];
  const badFor = (valid: (p: Buffer) => boolean): Buffer => {
    for (;;) {
      const payload = fuzz.payload();
      if (!valid(payload)) return payload;
    }
  };
  while (out.length < MESSAGES) {
    const qos = fuzz.pick([0, 1] as const);
    const kind = fuzz.int(10);
    if (kind < 6) {
      // `<base>/<chip>/<line>/set`: a known chip or not, a known line or not, an empty level now and then.
      const chip = fuzz.pick([CHIP, CHIP, fuzz.level(), '']);
      const line = fuzz.pick([fuzz.pick(INPUTS), fuzz.pick(OUTPUTS), fuzz.level(), '']);
      // Any payload could be a valid command for an input line (a named one, or a number): the parser decides.
      const payload = badFor((p) => chip === CHIP && !OUTPUTS.includes(line) && parseCommand(p, LINE_DEFAULTS).ok);
      out.push({ topic: `${B}/${chip}/${line}/set`, payload, qos, answer: 'event' });
    } else {
      const command = fuzz.pick(['set', 'get', 'set', 'frobnicate', fuzz.level()]);
      // Bodies that can never set a line: an unknown field, an output line, a missing chip, or a bad state.
      const body: Record<string, unknown> = fuzz.pick([
        () => ({ chip: CHIP, line: fuzz.pick(INPUTS), state: 'ON', [`x${fuzz.level()}`]: fuzz.value() }),
        () => ({ chip: CHIP, line: fuzz.pick(OUTPUTS), state: fuzz.value() }),
        () => ({ chip: fuzz.level(), line: fuzz.level(), state: 'TOGGLE' }),
        () => ({ chip: CHIP, line: fuzz.pick(INPUTS), state: `~${String(fuzz.value())}`, pulse_ms: fuzz.value() }),
        () => ({ chip: fuzz.value(), line: fuzz.value() }),
      ])();
      const payload = fuzz.pick([() => Buffer.from(JSON.stringify(body)), () => fuzz.bytes(fuzz.int(40)), () => Buffer.from(JSON.stringify(fuzz.value()))])();
      out.push({ topic: `${B}/bridge/request/${command}`, payload, qos, answer: 'response' });
    }
  }
  return out;
}


/** Resolves once count() reaches `wanted`, or has not grown for a second. */
async function settled(count: () => number, wanted: number): Promise<void> {
  let last = -1;
  let since = performance.now();
  while (count() < wanted) {
    const now = count();
    if (now !== last) {
      last = now;
      since = performance.now();
    } else if (performance.now() - since > 1000) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** How many times each topic occurs in `topics`. */
function tally(topics: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const topic of topics) counts.set(topic, (counts.get(topic) ?? 0) + 1);
  return counts;
}

describe(`fuzzing a bridge with a bound fake guest (seed ${SEED})`, { timeout: 120_000 }, () => {
  let dir: string;
  let bridge: ChildProcess;
  let log = '';
  let probe: MqttProbe;
  let mem: SharedMemory;
  let guest: FakeGuest;
  let port: number;
  let webPort: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-fuzz-'));
    port = await freePort();
    webPort = await freePort();
    const lines = [...INPUTS.map((name, i) => `{ line: ${i}, name: ${name} }`), ...OUTPUTS.map((name, i) => `{ line: ${i + 4}, name: ${name}, direction: output }`)];
    const config = join(dir, 'fuzz.yaml');
    writeFileSync(config, `base_topic: ${B}\nlog_level: error\nbroker: { port: ${port}, max_publish_rate: null }\nmetrics: { port: null }\nweb: { port: ${webPort} }\nchips:\n  - { name: ${CHIP}, mode: plain, shm: ${dir}/fz0.shm, ngpio: ${NGPIO}, poll_ms: 10, lines: [${lines.join(', ')}] }\n`);
    bridge = spawn(process.execPath, ['--import', 'tsx', CLI, 'start', '-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    bridge.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    probe = await until('the bridge\'s broker', () => MqttProbe.connect(`mqtt://127.0.0.1:${port}`, [`${B}/#`]).catch(() => false as const), 30_000);
    await probe.waitFor(`${B}/bridge/state`, (p) => p === '{"state":"online"}', 30_000);
    mem = SharedMemory.open(join(dir, 'fz0.shm'));
    guest = new FakeGuest(mem);
    guest.bind();
    // The guest drives its outputs: one high, one low.
    guest.setDirection(4, true);
    guest.setOutput(4, 1);
    guest.setDirection(5, true);
    await probe.waitFor(`${B}/${CHIP}/availability`, (p) => p === 'online', 30_000);
    await probe.waitFor(`${B}/${CHIP}/out4`, (p) => p === 'ON', 30_000);
  });

  after(async () => {
    if (bridge.exitCode === null) bridge.kill('SIGKILL');
    await probe.close().catch(() => undefined);
    mem.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('survives, changes no line, answers every bad command once, never itself, with bounded memory', async () => {
    const fuzz = new Fuzz(SEED);
    const all = messages(fuzz);
    const pid = bridge.pid ?? assert.fail('no pid');
    const levels = (): string => Array.from({ length: NGPIO }, (_, l) => `${guest.input(l)}${guest.pending(l) ? 'p' : ''}`).join(' ');
    const levelsBefore = levels();
    const from = probe.mark;
    const answered = (): { events: string[]; responses: string[] } => {
      const seen = probe.seen.slice(from);
      return {
        events: seen.filter((m) => m.topic === `${B}/bridge/event`).map((m) => (JSON.parse(m.payload) as { topic: string }).topic),
        responses: seen.filter((m) => m.topic.startsWith(`${B}/bridge/response/`)).map((m) => m.topic.replace('/response/', '/request/')),
      };
    };
    let rssAfterWarmUp = 0;
    for (let start = 0; start < all.length; start += BATCH) {
      const batch = all.slice(start, start + BATCH);
      await Promise.all(batch.map((m) => probe.client.publishAsync(m.topic, m.payload, { qos: m.qos })));
      const sent = all.slice(0, start + BATCH);
      const wanted = sent.length;
      // Paced: the next batch waits for this one's answers (QoS 0 events are not dropped under back-pressure
      // then), or until they stop coming (a missing answer is reported below, not waited for).
      await settled(() => {
        const { events, responses } = answered();
        return events.length + responses.length;
      }, wanted);
      if (start === 2 * BATCH) rssAfterWarmUp = rssBytes(pid);
    }
    // Let anything late arrive, then compare.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(bridge.exitCode, null, `the bridge is still running\n${log.slice(-2000)}`);
    assert.equal(levels(), levelsBefore, 'no line changed');
    assert.equal(guest.input(4), 0, 'guest-driven line 4 (its in word) untouched');

    const { events, responses } = answered();
    const expectEvents = tally(all.filter((m) => m.answer === 'event').map((m) => m.topic));
    const expectResponses = tally(all.filter((m) => m.answer === 'response').map((m) => m.topic));
    const gotEvents = tally(events);
    const gotResponses = tally(responses);
    const wrong = (expected: Map<string, number>, got: Map<string, number>, what: string): string[] =>
      [...new Set([...expected.keys(), ...got.keys()])]
        .filter((topic) => (expected.get(topic) ?? 0) !== (got.get(topic) ?? 0))
        .map((topic) => `${JSON.stringify(topic)}: sent ${expected.get(topic) ?? 0}, ${what} ${got.get(topic) ?? 0}`);
    // Issue 16 items 1, 2 and 4 (core): requests and the bridge's own responses are not commands; QoS 1 on an empty level is answered.
    assert.deepEqual(wrong(expectEvents, gotEvents, 'events'), [], 'every /set message answered exactly once on bridge/event');
    assert.deepEqual(wrong(expectResponses, gotResponses, 'responses'), [], 'every request answered exactly once');
    // A fuzzed `bridge/<x>/set` is a command for a chip that cannot exist and is answered; the bridge's own replies never are.
    assert.deepEqual(events.filter((topic) => topic.startsWith(`${B}/bridge/response/`)), [], 'the bridge never answers its own topics');

    const grew = rssBytes(pid) - rssAfterWarmUp;
    assert.ok(grew < 64 * MiB, `RSS grew by ${(grew / MiB).toFixed(1)} MiB over the run`);
    // Still serving: a real command after all that.
    const response = await probe.request(B, 'get', { chip: CHIP, line: 'out4' });
    assert.deepEqual([response.status, (response.data as { state: string }).state], ['ok', 'ON']);
  });

  it('closes or refuses what must not be answered: foreign sites, U+0000 topics, MQTT 5, a reader that stops', async () => {
    const fuzz = new Fuzz(SEED + 1);
    const levels = (): string => Array.from({ length: NGPIO }, (_, l) => `${guest.input(l)}${guest.pending(l) ? 'p' : ''}`).join(' ');
    const levelsBefore = levels();
    const mqttUrl = `ws://127.0.0.1:${webPort}/mqtt`;
    for (let i = 0; i < 20; i += 1) {
      const host = fuzz.foreignHost();
      const origin = fuzz.pick([`http://${host}`, `https://${host}:${webPort}`, `http://127.0.0.1:${webPort + 1}`, 'null', `http://localhost:${webPort}.${host}`]);
      assert.equal(await handshake(mqttUrl, { origin }), 403, `Origin ${origin}`);
      const badHost = fuzz.pick([host, `${host}:${webPort}`, `127.0.0.1:${webPort + 1}`]);
      assert.equal(await getStatus(webPort, fuzz.pick(['/', '/config.json', '/app.js']), { host: badHost }), 403, `Host ${badHost}`);
    }
    assert.equal(await handshake(mqttUrl, { origin: `http://127.0.0.1:${webPort}` }), 'open', 'the page\'s own origin');

    const from = probe.mark;
    for (let i = 0; i < 10; i += 1) {
      // A topic that would be a command but for the U+0000 somewhere in it.
      const parts = [B, CHIP, fuzz.pick(INPUTS), 'set'];
      const at = fuzz.int(parts.length);
      parts[at] = `${(parts[at] ?? '').slice(0, fuzz.int(4))}\0${fuzz.level()}`;
      const client = await RawClient.connect(port);
      client.socket.write(packets.connect(`nul${i}`));
      client.socket.write(packets.publish(parts.join('/'), fuzz.pick(['ON', 'TOGGLE'])));
      assert.ok(await client.closedWithin(5000), `a PUBLISH to ${JSON.stringify(parts.join('/'))} closes the connection`);
      const five = await RawClient.connect(port);
      five.socket.write(packets.connect(`five${i}`, 5));
      assert.deepEqual([...(await five.receive(4)).subarray(0, 4)], [0x20, 2, 0, 1], 'MQTT 5: CONNACK 1');
      assert.ok(await five.closedWithin(5000));
    }

    const stalled = await RawClient.connect(port);
    stalled.socket.write(packets.connect('stalled'));
    stalled.socket.write(packets.subscribe('#'));
    await stalled.receive(9);
    stalled.socket.pause();
    // 80 MiB, ten times broker.max_client_output_bytes, in 100 KiB messages: the kernel's socket buffers take what a
    // paused reader does not read first (here up to 32 MiB receiving, 4 MiB sending: net.ipv4.tcp_rmem/tcp_wmem), so
    // 16 MiB left the broker under its bound in one CI-like run.
    for (let i = 0; i < 800; i += 1) await probe.client.publishAsync('flood/x', fuzz.bytes(32).toString('hex').repeat(1600), { qos: 0 });
    stalled.socket.resume();
    assert.ok(await stalled.closedWithin(30_000), 'the reader that stopped was disconnected');

    assert.equal(bridge.exitCode, null, `the bridge is still running\n${log.slice(-2000)}`);
    assert.equal(levels(), levelsBefore, 'no line changed');
    assert.deepEqual(probe.seen.slice(from).filter((m) => m.topic === `${B}/bridge/event`), [], 'nothing reached the bridge as a command');
    const response = await probe.request(B, 'get', { chip: CHIP, line: 'out4' });
    assert.deepEqual([response.status, (response.data as { state: string }).state], ['ok', 'ON']);
  });
});
