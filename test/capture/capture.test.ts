/**
 * `vgpio2mqtt capture` as a CLI process against a running bridge (embedded
 * broker, plain-mode chip, the fake guest driving an output through its
 * event ring): the VCD it writes is read back by sigrok-cli and by
 * GTKWave's vcd2fst/fst2vcd with the same edges, order and line names.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { InProcessBridge } from '../../testkit/bridge-in-process.ts';
import { plainChipYaml } from '../../testkit/plain-chip.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
import { connect, type Edge, type Vgpio } from '../../client/index.ts';
import { gtkwaveRoundTrip, parseVcd, sigrokRead } from '../support/vcd-readers.ts';
import { CLI, startCapture, type CaptureProcess } from '../../testkit/capture-cli.ts';

const run = promisify(execFile);
const B = 'cap';

describe('vgpio2mqtt capture', () => {
  let bridge: InProcessBridge;
  let dir: string;
  let guest: FakeGuest;
  let vgpio: Vgpio;

  const capture = (...args: string[]): Promise<CaptureProcess> => startCapture(bridge.configPath, args);
  const cliFails = async (...args: string[]): Promise<{ code: number; stderr: string }> => {
    try {
      await run(process.execPath, ['--import', 'tsx', CLI, 'capture', ...args, '-c', bridge.configPath]);
      return assert.fail('capture succeeded');
    } catch (error) {
      const e = error as { code: number; stderr: string };
      return { code: e.code, stderr: e.stderr };
    }
  };
  /** Sets a host-driven line and waits for the bridge's edge. */
  const hostEdge = async (name: string, state: 'ON' | 'OFF'): Promise<Edge> => {
    const line = vgpio.chip('board').line(name);
    const edge = line.waitFor({ edge: 'any', source: 'host' }, { timeoutMs: 10_000 });
    await line.set(state);
    return edge;
  };
  /** The fake guest drives led (line 1) and reports it in its ring; waits for the bridge's edge. */
  const guestEdge = async (level: 0 | 1): Promise<Edge> => {
    const edge = vgpio.chip('board').line('led').waitFor({ edge: 'any', source: 'guest' }, { timeoutMs: 10_000 });
    guest.setOutput(1, level);
    return edge;
  };

  before(async () => {
    bridge = await InProcessBridge.start({
      name: 'capture-test',
      config: (folder, port) => plainChipYaml({
        baseTopic: B, port, metricsPort: 0, dir: folder,
        lines: ['{ line: 0, name: button }', '{ line: 1, name: led, direction: output }', '{ line: 2, name: relay, inverted: true }'],
      }),
    });
    dir = bridge.dir;
    guest = new FakeGuest(bridge.open());
    guest.bind();
    guest.setDirection(1, true);
    vgpio = await connect({ url: bridge.url, baseTopic: B, timeoutMs: 10_000 });
    await vgpio.chip('board').waitOnline({ timeoutMs: 10_000 });
    // Subscribes each line's state and edges now, so a wait started right before an action is listening when its edge comes.
    for (const name of ['button', 'led', 'relay']) await vgpio.chip('board').line(name).level();
  });

  after(async () => {
    await vgpio.close();
    await bridge.stop();
  });

  it('records host and guest edges until --count, in one timebase that keeps both clocks\' spacing', async () => {
    const file = join(dir, 'count.vcd');
    const cap = await capture('--chip', 'board', '--lines', 'button,led,relay', '--count', '7', '--out', file);
    const edges = [
      ['button', await hostEdge('button', 'ON')],
      ['led', await guestEdge(1)],
      ['relay', await hostEdge('relay', 'OFF')],
      ['led', await guestEdge(0)],
      ['button', await hostEdge('button', 'OFF')],
      ['led', await guestEdge(1)],
      ['relay', await hostEdge('relay', 'ON')],
    ] as const;
    assert.equal(await cap.exited, 0, cap.stderr());
    assert.match(cap.stderr(), /wrote 7 edge\(s\) on 3 line\(s\) .* \(stopped by count\)/);
    const expected = edges.map(([line, edge]) => `${line}=${edge.edge === 'rising' ? 1 : 0}`);

    const sigrok = sigrokRead(file);
    assert.deepEqual(sigrok.names, ['button', 'led', 'relay']);
    assert.deepEqual(sigrok.initial, [0, 0, 1], 'initial levels from the retained states; relay is inverted, so it starts ON');
    assert.deepEqual(sigrok.steps, expected.map((step) => [step]));

    const gtkwave = gtkwaveRoundTrip(file);
    assert.deepEqual(gtkwave.names, ['button', 'led', 'relay']);
    assert.deepEqual(gtkwave.changes.map((c) => `${c.name}=${c.level}`), expected);

    // Guest edges keep the guest's own spacing to the nanosecond; host edges the bridge's (ms) spacing.
    const vcd = parseVcd(readFileSync(file, 'utf8'));
    const at = (line: string): number[] => vcd.changes.filter((c) => c.name === line).map((c) => c.timeNs);
    const gaps = (times: number[]): number[] => times.slice(1).map((t, i) => t - (times[i] ?? 0));
    const guestNs = edges.filter(([line]) => line === 'led').map(([, edge]) => edge.guestNs ?? NaN);
    assert.equal(guestNs.length, 3);
    assert.deepEqual(gaps(at('led')), gaps(guestNs));
    const hostMs = (line: string): number[] => edges.filter(([l]) => l === line).map(([, edge]) => edge.tsMs);
    assert.deepEqual(gaps(at('button')), gaps(hostMs('button')).map((ms) => ms * 1e6));
  });

  it('ends cleanly on Ctrl-C (SIGINT) and writes a valid file to stdout with --out -', async () => {
    const cap = await capture('--chip', 'board', '--out', '-');
    await hostEdge('button', 'ON');
    await guestEdge(0);
    await hostEdge('button', 'OFF');
    // What a bridge's will and its restart publish: the capture says why edges may be missing.
    // Raw retained publishes, not the client: the test impersonates the bridge's own topic.
    for (const state of ['offline', 'online']) {
      await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(bridge.port), '-q', '1', '-r', '-t', `${B}/bridge/state`, '-m', `{"state":"${state}"}`]);
    }
    // The capture is a subscriber of its own: give it ample time to receive what mosquitto_pub sent before stopping it.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    cap.kill('SIGINT');
    assert.equal(await cap.exited, 0, cap.stderr());
    assert.match(cap.stderr(), /capture: the bridge went offline: no edges until it is back\ncapture: the bridge is back online\n/);
    assert.match(cap.stderr(), /wrote 3 edge\(s\) on 8 line\(s\) .* to stdout \(stopped by signal\)/);
    const file = join(dir, 'stdout.vcd');
    writeFileSync(file, cap.stdout());
    const sigrok = sigrokRead(file);
    assert.deepEqual(sigrok.names, ['button', 'led', 'relay', '3', '4', '5', '6', '7'], 'every line, named lines by name, the others by number');
    assert.deepEqual(sigrok.steps, [['button=1'], ['led=0'], ['button=0']]);
  });

  it('stops after --duration with the initial levels when nothing changed', async () => {
    const file = join(dir, 'quiet.vcd');
    const cap = await capture('--chip', 'board', '--lines', 'relay,led', '--duration', '300ms', '--out', file);
    assert.equal(await cap.exited, 0, cap.stderr());
    assert.match(cap.stderr(), /wrote 0 edge\(s\) on 2 line\(s\) .* \(stopped by duration\)/);
    const vcd = parseVcd(readFileSync(file, 'utf8'));
    assert.deepEqual(vcd.names, ['relay', 'led']);
    assert.deepEqual(vcd.initial, { relay: '1', led: '0' });
    assert.deepEqual(vcd.changes, []);
    assert.deepEqual(gtkwaveRoundTrip(file).initial, { relay: '1', led: '0' });
  });

  it('refuses bad arguments with exit status 2 and a message saying what is allowed, writing nothing', async () => {
    const file = join(dir, 'never.vcd');
    const cases: [string[], RegExp][] = [
      [['--chip', 'nope', '--out', file], /no chip "nope" in the configuration \S+config\.yaml; chips: board/],
      [['--chip', 'board'], /capture needs --out <file\.vcd>, or --out - /],
      [['--chip', 'board', '--lines', 'button,door', '--out', file], /chip board has no line "door"; lines are named \(button, led, relay\) or numbered 0\.\.7/],
      [['--chip', 'board', '--duration', 'soon', '--out', file], /--duration "soon" is not a duration/],
      [['--chip', 'board', '--count', '-3', '--out', file], /--count "-3" is not a whole number of edges from 1/],
      [['--chip', 'board', '--out', join(dir, 'missing', 'x.vcd')], /cannot write --out .*missing\/x\.vcd.*ENOENT/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await cliFails(...args);
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, message);
    }
    assert.equal(existsSync(file), false);
  });
});

describe('vgpio2mqtt capture with broker users', () => {
  let bridge: InProcessBridge;
  let dir: string;
  let config: string;

  before(async () => {
    bridge = await InProcessBridge.start({
      name: 'capture-login',
      config: (folder, port) => plainChipYaml({
        baseTopic: B, port, users: [`{ username: viewer, password: s3cret, publish: [], subscribe: ["${B}/#"] }`], metricsPort: 0, dir: folder, ngpio: 2, lines: ['{ line: 0, name: button }'],
      }),
    });
    ({ dir, configPath: config } = bridge);
  });

  after(async () => {
    await bridge.stop();
  });

  it('says how to log in when the broker refuses it, and records with --mqtt-username/--mqtt-password', async () => {
    const file = join(dir, 'login.vcd');
    try {
      await run(process.execPath, ['--import', 'tsx', CLI, 'capture', '--chip', 'board', '--count', '1', '--out', file, '-c', config]);
      assert.fail('capture without a login succeeded');
    } catch (error) {
      const e = error as { code: number; stderr: string };
      assert.equal(e.code, 1, e.stderr);
      assert.match(e.stderr, /the MQTT broker refused the login .*pass --mqtt-username and --mqtt-password/);
    }
    assert.equal(existsSync(file), false, 'a failed capture leaves no file');

    const cap = await startCapture(config, ['--chip', 'board', '--duration', '200ms', '--out', file, '--mqtt-username', 'viewer', '--mqtt-password', 's3cret']);
    assert.equal(await cap.exited, 0, cap.stderr());
    assert.doesNotMatch(cap.stderr(), /s3cret/);
    assert.match(cap.stderr(), /capture: chip board is offline \(no guest with its driver bound\): no edges until it is online/);
    assert.deepEqual(parseVcd(readFileSync(file, 'utf8')).initial, { button: '0', 1: '0' }, 'the retained states, read with the login');
  });
});
