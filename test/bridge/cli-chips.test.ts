/**
 * The CLI's subcommands as processes, as users run them: each has its own
 * short --help; all find chips the same way (the configuration file when
 * one is given, else the running bridge's bridge/info), so a bridge started
 * with a configuration the CLI was not given (as `npm run demo` does) is
 * reached by qemu-args, get, set, watch and capture alike; a lone chip is
 * the default; unknown chips and lines, and a bridge that is not running,
 * get errors naming what exists.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../testkit/ports.ts';
import { plainChipYaml } from '../../testkit/plain-chip.ts';
import { until } from '../../testkit/vgpio-host.ts';
import { startBridgeProcess } from '../support/bridge-process.ts';
import { FakeGuest } from '../../testkit/fake-guest.ts';
import { SharedMemory } from '../../native/index.ts';

const exec = promisify(execFile);
const CLI = join(import.meta.dirname, '../../bridge/cli.ts');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with no configuration file and no VGPIO2MQTT_* variables. */
async function cli(...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { PATH: process.env.PATH } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('vgpio2mqtt <command> --help', () => {
  const commands = ['start', 'qemu-args', 'get', 'set', 'watch', 'capture'];

  it('is short and about that command: usage, its options, an example, a pointer to vgpio2mqtt --help', async () => {
    const global = await cli('--help');
    const texts = new Set<string>();
    for (const command of commands) {
      const { code, stdout } = await cli(command, '--help');
      assert.equal(code, 0, command);
      const lines = stdout.trimEnd().split('\n');
      assert.ok(lines.length <= 25, `${command} --help has ${lines.length} lines:\n${stdout}`);
      assert.ok(lines.length * 3 < global.stdout.split('\n').length, `${command} --help is much shorter than vgpio2mqtt --help`);
      assert.match(stdout, new RegExp(`^Usage: vgpio2mqtt ${command} `));
      assert.match(stdout, new RegExp(`\\nExample:\\n  [^\\n]*vgpio2mqtt ${command}`));
      assert.match(stdout, /every option: vgpio2mqtt --help/);
      assert.doesNotMatch(stdout, /mqtt\.keepalive/, 'no configuration option list');
      texts.add(stdout);
    }
    assert.equal(texts.size, commands.length, 'each command has its own help');
    assert.match((await cli('capture', '--help')).stdout, /--chip <chip> {6}the chip \(default: the only chip\)/);
    assert.equal((await cli('help', 'capture')).stdout, (await cli('capture', '--help')).stdout);
  });
});

describe('subcommands against a running bridge, without its configuration', { timeout: 180_000 }, () => {
  let dir: string;
  let port: number;
  let bridge: ChildProcess;
  /** The bridge's broker, the one thing a CLI without configuration must be told. */
  let at: string[];
  let mem: SharedMemory | undefined;
  let shm: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-cli-chips-'));
    // Directly in /dev/shm: libvirt maps ivshmem-plain memory from there only.
    shm = `/dev/shm/${basename(dir)}.shm`;
    port = await freePort();
    at = ['--broker-port', String(port)];
    const config = join(dir, 'bridge.yaml');
    // poll_ms 10: plain mode's default.
    writeFileSync(config, plainChipYaml({
      port, dir: '/dev/shm', shm: basename(shm), pollMs: 10, ngpio: 4, chipKeys: ['size: 1048576'], lines: ['{ line: 0, name: button }', '{ line: 1, name: led, direction: output }'],
    }));
    ({ child: bridge } = await startBridgeProcess(config));
    // A guest with its driver bound, so host-driven lines take commands.
    mem = SharedMemory.open(shm);
    new FakeGuest(mem).bind();
  });

  after(async () => {
    if (bridge.exitCode === null) {
      const exited = new Promise((resolve) => bridge.once('exit', resolve));
      bridge.kill('SIGTERM');
      await exited;
    }
    mem?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(shm, { force: true });
  });

  it('qemu-args prints the lone chip\'s options, and libvirt XML, from bridge/info', async () => {
    const qemu = await cli('qemu-args', ...at);
    assert.equal(qemu.code, 0, qemu.stderr);
    assert.equal(qemu.stdout, `-object memory-backend-file,id=vgpio-board,share=on,mem-path=${shm},size=1048576 -device ivshmem-plain,memdev=vgpio-board\n`);
    const named = await cli('qemu-args', 'board', ...at);
    assert.equal(named.stdout, qemu.stdout);
    const xml = await cli('qemu-args', 'board', '--format', 'libvirt', ...at);
    assert.equal(xml.code, 0, xml.stderr);
    assert.match(xml.stdout, new RegExp(`<shmem name='${basename(shm)}'>`));
  });

  it('names the chips there are when a chip is unknown, and the lines when a line is', async () => {
    const chip = await cli('qemu-args', 'nochip', ...at);
    assert.equal(chip.code, 2);
    assert.match(chip.stderr, /^vgpio2mqtt: no chip "nochip" in the running bridge \(bridge\/info\); chips: board\n$/);
    const line = await cli('get', 'board', 'nope', ...at);
    assert.equal(line.code, 2);
    assert.match(line.stderr, /^vgpio2mqtt: chip board has no line "nope"; lines are named \(button, led\) or numbered 0\.\.3\n$/);
  });

  it('get and set take the lone chip when it is left out', async () => {
    const set = await cli('set', 'button', 'ON', ...at);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, 'ON\n');
    const get = await cli('get', 'button', ...at);
    assert.equal(get.stdout, 'ON\n');
    assert.equal((await cli('get', 'board', '0', ...at)).stdout, 'ON\n', 'a line by its number, the chip named');
  });

  it('set --pwm starts a square wave that the next command stops; a bad --pwm changes nothing', async () => {
    const bad = await cli('set', 'button', '--pwm', '20ms', ...at);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--pwm "20ms"; allowed: PERIOD:DUTY% with PERIOD in ms, s or Hz/);
    const refused = await cli('set', 'button', '--pwm', '20ms:100%', ...at);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /"pwm\.duty" "100" is not allowed; allowed: a percentage above 0 and below 100/);
    const wave = await cli('set', 'button', '--pwm', '50Hz:50%', ...at);
    assert.equal(wave.code, 0, wave.stderr);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const levels = new Set<string>();
    for (let i = 0; i < 20 && levels.size < 2; i++) levels.add((await cli('get', 'button', ...at)).stdout);
    assert.deepEqual([...levels].sort(), ['OFF\n', 'ON\n'], 'the line goes both ways while the wave runs');
    // ON stops it: the line stays ON (the next test reads it).
    assert.equal((await cli('set', 'button', 'ON', ...at)).code, 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (let i = 0; i < 3; i++) assert.equal((await cli('get', 'button', ...at)).stdout, 'ON\n');
  });

  it('watch takes a chip and a line from bridge/info', async () => {
    const watcher = spawn(process.execPath, ['--import', 'tsx', CLI, 'watch', 'board', 'button', ...at], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
    let out = '';
    watcher.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      await until('the retained state', () => out.includes('vgpio2mqtt/board/button ON'), 30_000);
    } finally {
      const exited = new Promise((resolve) => watcher.once('exit', resolve));
      watcher.kill('SIGINT');
      await exited;
    }
    const wrong = await cli('watch', 'nochip', ...at);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /no chip "nochip" in the running bridge \(bridge\/info\); chips: board/);
  });

  it('capture records the lone chip without --chip', async () => {
    const out = join(dir, 'capture.vcd');
    const capture = spawn(process.execPath, ['--import', 'tsx', CLI, 'capture', '--lines', 'button', '--count', '1', '--out', out, ...at], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH } });
    let err = '';
    capture.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => capture.once('exit', resolve));
    await until('the capture to record', () => err.includes('capture: recording') || capture.exitCode !== null, 60_000);
    assert.match(err, /capture: recording 1 line\(s\) of chip board/);
    assert.equal((await cli('set', 'button', 'OFF', ...at)).code, 0);
    assert.equal(await exited, 0, err);
    const vcd = readFileSync(out, 'utf8');
    assert.match(vcd, /\$var wire 1 ! button \$end/);
    assert.match(vcd, /^0!$/m, 'the falling edge');
  });
});

describe('subcommands without a configuration and without a running bridge', () => {
  it('say the bridge is not running and how to give a configuration instead', async () => {
    const port = await freePort();
    const result = await cli('qemu-args', '--broker-port', String(port));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /is vgpio2mqtt running\? \(no configuration file was given \(-c or VGPIO2MQTT_CONFIG\), so chips come from the running bridge\)/);
  });
});
