/**
 * `npm run demo` without a terminal, with an x86_64 and with an arm64 guest
 * (`--arch`): the demo process boots its guest, a
 * line toggled over MQTT shows up as gpiomon's event in the guest (printed
 * by the demo) and as the guest agent's edge message on MQTT, the guest's
 * blinking LED shows up on MQTT, the guest's console is printed without
 * the harness's command markers, `qemu-args` and `capture` reach the
 * demo's chip without its configuration, and SIGINT (what
 * Ctrl-C sends) stops everything: exit status 0, no QEMU left, the socket
 * and the session folder gone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../testkit/kernel.ts';
// Raw MQTT (MqttProbe), not the typed client: the agent's and the line config topics, which the typed client does not speak.
import { MqttProbe } from '../../testkit/mqtt-probe.ts';
import { freePort } from '../../testkit/ports.ts';
import { until } from '../../testkit/vgpio-host.ts';

const exec = promisify(execFile);
const CLI = join(repoRoot, 'bridge/cli.ts');

/** Command lines of running processes that mention `text`. */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(text)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

for (const arch of ['x86_64', 'arm64']) describe(`npm run demo -- --arch ${arch}, non-interactively`, { timeout: 300_000 }, () => {
  let demo: ChildProcess;
  let output = '';
  let port: number;
  let probe: MqttProbe;
  let sessionDir = '';
  let exited: Promise<number | null>;

  before(async () => {
    port = await freePort();
    demo = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'demo/main.ts'), '--port', String(port), '--web-port', '0', '--arch', arch], { stdio: ['ignore', 'pipe', 'pipe'] });
    demo.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    exited = new Promise((resolve) => demo.once('exit', resolve));
    await until('the demo to print its instructions', () => output.includes('Ctrl-C stops') || demo.exitCode !== null, 240_000);
    assert.equal(demo.exitCode, null, output);
    sessionDir = /path=(\/\S+)\/demo\.sock/.exec(output)?.[1] ?? '';
    probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, ['vgpio2mqtt/demo/#']);
  });

  after(async () => {
    await probe.close().catch(() => undefined);
    if (demo.exitCode === null) demo.kill('SIGKILL');
  });

  it('prints the commands to type, with its broker port, and boots the guest asked for', () => {
    assert.match(output, new RegExp(`booting a TCG guest \\(${arch === 'arm64' ? 'aarch64' : arch}\\)`));
    assert.match(output, new RegExp(`mosquitto_pub -h 127\\.0\\.0\\.1 -p ${port} -t vgpio2mqtt/demo/button/set -m ON`));
    assert.match(output, new RegExp(`mosquitto_sub -h 127\\.0\\.0\\.1 -p ${port} -v -t 'vgpio2mqtt/demo/#'`));
    assert.ok(existsSync(join(sessionDir, 'demo.sock')), `the chip's socket is in ${sessionDir}`);
  });

  it('prints the web view\'s URL, which serves the page', async () => {
    const url = /Watch it as a waveform in a browser: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1];
    assert.ok(url !== undefined, output);
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /<title>vgpio2mqtt<\/title>/);
  });

  it('shows a line toggled over MQTT as a gpiomon event in the guest', async () => {
    await probe.waitFor('vgpio2mqtt/demo/availability', (p) => p === 'online');
    // The demo prints its instructions only once gpiomon waits for edges; the bridge must also have seen its interrupt enabled.
    await probe.waitFor('vgpio2mqtt/demo/switch/config', (p) => p.includes('"enabled":true'), 60_000);
    await probe.publish('vgpio2mqtt/demo/switch/set', 'ON');
    await until('gpiomon\'s rising edge on line 2', () => /guest \| event:\s+RISING EDGE offset: 2 /.test(output), 20_000);
    await probe.publish('vgpio2mqtt/demo/switch/set', 'OFF');
    await until('gpiomon\'s falling edge on line 2', () => /guest \| event:\s+FALLING EDGE offset: 2 /.test(output), 20_000);
  });

  it('prints the guest\'s console without the test harness\'s command markers', () => {
    assert.match(output, /guest \| event:/);
    assert.doesNotMatch(output, /__VGPIO_(?:BEGIN|END)_/);
  });

  it('is reached by qemu-args and capture without its configuration (from bridge/info)', async () => {
    const env = { PATH: process.env.PATH };
    const qemu = await exec(process.execPath, ['--import', 'tsx', CLI, 'qemu-args', '--broker-port', String(port)], { env });
    assert.ok(qemu.stdout.includes(`path=${sessionDir}/demo.sock`), qemu.stdout);
    assert.ok(qemu.stdout.includes(`path=${sessionDir}/agent.sock`), qemu.stdout);
    // The led blinks every 2 s: one edge ends the capture.
    const capture = await exec(process.execPath, ['--import', 'tsx', CLI, 'capture', '--lines', 'led', '--count', '1', '--out', '-', '--broker-port', String(port)], { env, timeout: 60_000 });
    assert.match(capture.stdout, /\$var wire 1 ! led \$end/);
    assert.match(capture.stderr, /capture: wrote 1 edge\(s\) on 1 line\(s\)/);
  });

  it('reports a toggled line back through the guest agent over virtio-serial', async () => {
    const from = probe.mark;
    await probe.publish('vgpio2mqtt/demo/button/set', 'ON');
    const edge = await probe.waitFor('vgpio2mqtt/demo/button/agent/edge', () => true, 20_000, from);
    assert.match(edge.payload, /"edge":"rising".*"guest_ns":\d+,"clock":"monotonic"/);
    await probe.waitFor('vgpio2mqtt/demo/button/received', (p) => p.includes('"edge":"rising"'), 20_000, from);
  });

  it('publishes the guest\'s blinking LED', async () => {
    const from = probe.mark;
    await probe.waitFor('vgpio2mqtt/demo/led/edge', (p) => p.includes('"source":"guest"'), 30_000, from);
  });

  it('stops everything on SIGINT and leaves nothing behind', async () => {
    demo.kill('SIGINT');
    assert.equal(await exited, 0, output);
    assert.match(output, /stopped; nothing left behind/);
    assert.equal(existsSync(sessionDir), false, `${sessionDir} is removed`);
    assert.deepEqual(processesMentioning(sessionDir), [], 'no QEMU (or anything else) still runs with the session\'s files');
  });
});

describe('npm run demo with a guest architecture it does not know', () => {
  it('refuses it clearly and starts nothing', async () => {
    const demo = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'demo/main.ts'), '--arch', 'sparc'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => demo.once('exit', resolve));
    assert.equal(code, 2, output);
    assert.match(output, /demo: --arch: unknown guest architecture 'sparc' \(use x86_64 or aarch64, or amd64, arm64\)/);
    assert.doesNotMatch(output, /building|starting the bridge/);
  });
});

describe('npm run demo, interrupted while starting', { timeout: 300_000 }, () => {
  it('stops after the current step and leaves nothing behind', async () => {
    const port = await freePort();
    const demo = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'demo/main.ts'), '--port', String(port), '--web-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve));
    try {
      await until('the demo to start booting its guest', () => output.includes('booting a TCG guest') || demo.exitCode !== null, 120_000);
      const sessionDir = /path=(\/\S+)\/demo\.sock/.exec(output)?.[1] ?? '';
      assert.ok(existsSync(sessionDir), output);
      demo.kill('SIGINT');
      assert.equal(await exited, 130, output);
      assert.match(output, /stopped before the guest was ready; nothing left behind/);
      assert.equal(existsSync(sessionDir), false);
      assert.deepEqual(processesMentioning(sessionDir), []);
    } finally {
      if (demo.exitCode === null) demo.kill('SIGKILL');
    }
  });
});

describe('npm run demo 2>&1 | tee log, then Ctrl-C', { timeout: 300_000 }, () => {
  it('cleans up although its output pipe is gone (tee got the Ctrl-C too)', async () => {
    const port = await freePort();
    // The demo's own TMPDIR: its session folder and module build land there, and nothing else does.
    const tmp = mkdtempSync(join(tmpdir(), 'vgpio-demo-tmp-'));
    const demo = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'demo/main.ts'), '--port', String(port), '--web-port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: tmp },
    });
    let output = '';
    demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve));
    try {
      await until('the demo to start building', () => output.includes('demo: building') || demo.exitCode !== null, 60_000);
      assert.ok(readdirSync(tmp).some((name) => name.startsWith('vgpio-demo-')), 'the session folder is in the demo\'s TMPDIR');
      // tee is gone: every later write of the demo meets a closed pipe (EPIPE).
      demo.stdout.destroy();
      demo.stderr.destroy();
      demo.kill('SIGINT');
      assert.equal(await exited, 130);
      // (tsx keeps its compile cache there too: only the demo's own folders count.)
      assert.deepEqual(readdirSync(tmp).filter((name) => name.startsWith('vgpio-')), [], 'no /tmp/vgpio-demo-* or /tmp/vgpio-build-* is left');
    } finally {
      if (demo.exitCode === null) demo.kill('SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
