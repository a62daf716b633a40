/**
 * The `vgpio2mqtt` process as a user runs it: get against an embedded
 * broker with logins fails at once with a hint; a start that fails says
 * "cannot start" before the undoing ends in "stopped"; and the bridge
 * outlives the reader of its log (`start 2>&1 | head -c 100`), still
 * removing its socket when told to stop.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../testkit/ports.ts';
import { startBridgeProcess } from '../support/bridge-process.ts';
import { scratchDir } from '../support/scratch-dir.ts';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../bridge/cli.ts');

/** Runs the CLI expecting it to fail; its exit status and stderr. */
async function failing(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, ['--import', 'tsx', CLI, ...args]);
  } catch (error) {
    return error as { code: number; stderr: string };
  }
  return assert.fail(`vgpio2mqtt ${args.join(' ')} succeeded`);
}

function exited(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => { resolve(code); });
  });
}

describe('the vgpio2mqtt process', { timeout: 120_000 }, () => {
  const dir = scratchDir('vgpio-cli-');

  it('fails fast with a hint when the embedded broker refuses the CLI\'s login', async () => {
    const port = await freePort();
    const config = join(dir, 'users.yaml');
    writeFileSync(config, `broker: { port: ${port}, users: [{ username: ha, password: s3cret }] }
metrics: { port: null }
web: { enabled: false }
chips: [{ name: a, mode: plain, shm: ${dir}/a.shm }]
`);
    const { child: bridge, log } = await startBridgeProcess(config);
    try {
      const refused = await failing('get', 'a', '1', '-c', config);
      assert.equal(refused.code, 1);
      const stderr = refused.stderr;
      assert.match(stderr, /the MQTT broker refused the login \(.*Bad username or password; no user name was given\): pass --mqtt-username and --mqtt-password .* with one of the embedded broker's broker\.users/);
      assert.doesNotMatch(stderr, /within \d+ ms/);
      const wrong = await failing('get', 'a', '1', '-c', config, '--mqtt-username', 'ha', '--mqtt-password', 'wrong');
      assert.match(wrong.stderr, /refused the login \(.*; user "ha"\)/);
      assert.doesNotMatch(wrong.stderr, /wrong/);
      const ok = await run(process.execPath, ['--import', 'tsx', CLI, 'get', 'a', '1', '-c', config, '--mqtt-username', 'ha', '--mqtt-password', 's3cret']);
      assert.equal(ok.stdout, 'OFF\n');
    } finally {
      bridge.kill('SIGTERM');
      assert.equal(await exited(bridge), 0, log());
    }
  });

  it('says "cannot start" before the undoing and "stopped"', async () => {
    const config = join(dir, 'nofolder.yaml');
    writeFileSync(config, `broker: { port: null }
metrics: { port: null }
web: { enabled: false }
chips:
  - { name: ok, mode: plain, shm: ${dir}/ok.shm }
  - { name: bad, socket: ${dir}/missing/bad.sock, shm: ${dir}/bad.shm }
`);
    const failed = await failing('start', '-c', config);
    assert.equal(failed.code, 1);
    const lines = failed.stderr.trim().split('\n');
    const cannot = lines.findIndex((l) => / error +bridge: cannot start: chip bad: .*missing/.test(l));
    const stopped = lines.findIndex((l) => l.endsWith(' bridge: stopped'));
    assert.ok(cannot >= 0 && stopped > cannot, lines.join('\n'));
    assert.equal(lines.filter((l) => l.includes('cannot start')).length, 1, lines.join('\n'));
  });

  it('keeps running when its log pipe closes, and still cleans up on SIGTERM', async () => {
    const port = await freePort();
    // The agent socket is the bridge's own (a server-mode socket belongs to the ivshmem server process, which outlives the bridge).
    const socket = join(dir, 'pipe-agent.sock');
    const config = join(dir, 'pipe.yaml');
    writeFileSync(config, `broker: { port: ${port} }
metrics: { port: null }
web: { enabled: false }
chips: [{ name: p, mode: plain, shm: ${dir}/pipe.shm, agent_socket: ${socket} }]
`);
    const { child: bridge } = await startBridgeProcess(config, { stdout: 'pipe' });
    try {
      assert.ok(existsSync(socket));
      // What `| head -c 100` does once it has its 100 bytes: the reader goes away.
      bridge.stderr?.destroy();
      bridge.stdout?.destroy();
      // A request makes the bridge log (at debug it would; a refused one warns): it still answers.
      const refused = await failing('set', 'p', '99', 'ON', '-c', config);
      assert.match(refused.stderr, /no line "99"|has no line/);
      assert.equal(bridge.exitCode, null, 'the bridge still runs after its log pipe closed');
      // Every later log line (the "SIGTERM: shutting down" first) now meets EPIPE.
      bridge.kill('SIGTERM');
      assert.equal(await exited(bridge), 0);
      assert.equal(existsSync(socket), false, 'the agent socket is removed');
    } finally {
      if (bridge.exitCode === null) bridge.kill('SIGKILL');
    }
  });
});

describe('the vgpio2mqtt command on PATH', () => {
  it('runs through the link docs/quickstart.md makes to what npm ci built', async () => {
    const root = join(import.meta.dirname, '../..');
    const doc = readFileSync(join(root, 'docs/quickstart.md'), 'utf8');
    assert.ok(doc.includes('ln -s "$PWD/dist/bridge/cli.js" /usr/local/bin/vgpio2mqtt'));
    const bin = mkdtempSync(join(tmpdir(), 'vgpio-bin-'));
    try {
      symlinkSync(join(root, 'dist/bridge/cli.js'), join(bin, 'vgpio2mqtt'));
      // With a configuration file (no running bridge needed) and its lone chip as the default.
      const config = join(bin, 'config.yaml');
      writeFileSync(config, 'chips: [{ name: vgpio0 }]\n');
      const { stdout } = await run('vgpio2mqtt', ['qemu-args', '-c', config], { cwd: tmpdir(), env: { PATH: `${bin}:${process.env.PATH ?? ''}` } });
      assert.match(stdout, /^-chardev socket,id=vgpio-vgpio0,path=\S+\/vgpio0\.sock -device ivshmem-doorbell/);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
