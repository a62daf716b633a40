/**
 * Runtime files are private: the bridge's default sockets go into a folder
 * it owns (created 0700), and a folder, socket or shared-memory file that
 * another local user made (here `nobody`, as an attacker would) is refused
 * with a clear error, before anything is written to it. A non-root user's
 * bridge gets a private folder of its own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadSettings } from '../../bridge/settings/load.ts';
import { defaultRuntimeDir } from '../../bridge/settings/runtime-dir.ts';
import { Controller } from '../../bridge/controller.ts';
import { Logger } from '../../bridge/log.ts';
import { binding } from '../../native/addon.ts';
import { SharedMemory } from '../../native/index.ts';
import { until } from '../../testkit/vgpio-host.ts';
import { bridgeConnected } from '../support/bridge-log.ts';

const CLI = join(import.meta.dirname, '../../bridge/cli.ts');

/**
 * `nobody` runs the bridge from this checkout, which CI may clone into a
 * 0700 folder (`mktemp -d`). Grants search permission (o+x, not read) on
 * every folder from `path` up that lacks it, and returns how to take it back.
 */
function letNobodyReach(path: string): () => void {
  const changed: [string, number][] = [];
  for (let dir = path; ; dir = dirname(dir)) {
    const mode = statSync(dir).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      chmodSync(dir, mode | 0o001);
      changed.push([dir, mode]);
    }
    if (dir === dirname(dir)) break;
  }
  return () => {
    for (const [dir, mode] of changed.reverse()) chmodSync(dir, mode);
  };
}
/** `nobody`: the other local user of these tests. */
const NOBODY = 65534;
const SIZE = 8192;

describe('runtime files are private', { timeout: 120_000 }, () => {
  let dir: string;
  const config = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, `broker: { port: null }\nmetrics: { port: null }\nweb: { enabled: false }\nhomeassistant: { enabled: false }\n${text}`);
    return path;
  };
  /** Starts a bridge in-process; resolves with the refusal, fails if it started. */
  const refused = async (file: string, env: NodeJS.ProcessEnv = {}): Promise<string> => {
    let controller: Controller;
    try {
      controller = await Controller.start(loadSettings({ args: ['-c', file], env }), { log: new Logger('error', 'bridge', () => undefined) });
    } catch (error) {
      return (error as Error).message;
    }
    await controller.stop();
    return assert.fail('the bridge started');
  };

  before(() => {
    assert.equal(process.geteuid?.(), 0, 'these tests play another user: they run as root');
    dir = mkdtempSync(join(tmpdir(), 'vgpio-private-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('picks the runtime folder: systemd\'s, the login session\'s, /run for root, else one per user in /tmp', () => {
    assert.equal(defaultRuntimeDir({ RUNTIME_DIRECTORY: '/run/vg:/run/other', XDG_RUNTIME_DIR: '/run/user/5' }, 5), '/run/vg');
    assert.equal(defaultRuntimeDir({ XDG_RUNTIME_DIR: '/run/user/5' }, 5), '/run/user/5/vgpio2mqtt');
    assert.equal(defaultRuntimeDir({}, 0), '/run/vgpio2mqtt');
    assert.equal(defaultRuntimeDir({ XDG_RUNTIME_DIR: 'relative' }, 1000), '/tmp/vgpio2mqtt-1000');
    assert.equal(loadSettings({ env: { RUNTIME_DIRECTORY: '/run/vg' } }).chips[0]?.socket, '/run/vg/vgpio0.sock');
  });

  it('creates its runtime folder 0700 and puts the default socket there', async () => {
    const runtime = join(dir, 'fresh');
    const file = config('fresh.yaml', `chips: [{ name: fresh, shm: ${dir}/fresh.shm }]\n`);
    const controller = await Controller.start(loadSettings({ args: ['-c', file], env: { RUNTIME_DIRECTORY: runtime } }), { log: new Logger('error', 'bridge', () => undefined) });
    try {
      const stats = statSync(runtime);
      assert.equal(stats.mode & 0o777, 0o700);
      assert.ok(lstatSync(join(runtime, 'fresh.sock')).isSocket());
    } finally {
      await controller.stop();
    }
  });

  it('refuses a runtime folder another user made, or that others may write', async () => {
    const hostile = join(dir, 'hostile');
    mkdirSync(hostile);
    chownSync(hostile, NOBODY, NOBODY);
    chmodSync(hostile, 0o777);
    const file = config('hostile.yaml', `chips: [{ name: h1, shm: ${dir}/h1.shm }]\n`);
    assert.match(await refused(file, { RUNTIME_DIRECTORY: hostile }), /refusing the runtime folder .*\/hostile: it belongs to another user \(owner uid 65534, mode 0777; this process runs as uid 0\)/);
    assert.equal(existsSync(join(hostile, 'h1.sock')), false, 'nothing was created in it');
    chownSync(hostile, 0, 0);
    assert.match(await refused(file, { RUNTIME_DIRECTORY: hostile }), /refusing the runtime folder .*\/hostile: other users may write into it \(owner uid 0, mode 0777\)/);
    rmSync(hostile, { recursive: true });
    symlinkSync(dir, hostile);
    assert.match(await refused(file, { RUNTIME_DIRECTORY: hostile }), /refusing the runtime folder .*: it is not a folder/);
  });

  it('refuses a configured folder another user owns, or that others may write without the sticky bit', async () => {
    const theirs = join(dir, 'theirs');
    mkdirSync(theirs, { mode: 0o755 });
    chownSync(theirs, NOBODY, NOBODY);
    const file = config('theirs.yaml', `chips: [{ name: t1, socket: ${theirs}/t1.sock, shm: ${dir}/t1.shm }]\n`);
    assert.match(await refused(file), /refusing folder .*\/theirs: it belongs to another user/);
    chownSync(theirs, 0, 0);
    chmodSync(theirs, 0o777);
    assert.match(await refused(file), /refusing folder .*\/theirs: other users may write into it and it is not sticky/);
    // Sticky, like /tmp and /dev/shm: others cannot replace our files there.
    chmodSync(theirs, 0o1777);
    const controller = await Controller.start(loadSettings({ args: ['-c', file], env: {} }), { log: new Logger('error', 'bridge', () => undefined) });
    await controller.stop();
  });

  it('refuses a shared-memory file of another user, or one others may write, and never writes into it', async () => {
    const name = `hz${process.pid}`;
    // The default path, as an attacker on this machine would guess it.
    const shm = `/dev/shm/vgpio2mqtt-${name}`;
    const planted = Buffer.alloc(SIZE, 0x5a);
    writeFileSync(shm, planted);
    try {
      chownSync(shm, NOBODY, NOBODY);
      chmodSync(shm, 0o666);
      const file = config('shm.yaml', `chips: [{ name: ${name}, socket: ${dir}/${name}.sock }]\n`);
      assert.match(await refused(file), new RegExp(`refusing shared memory ${shm}: it belongs to another user \\(owner uid 65534, mode 0666; this process runs as uid 0\\)`));
      // The addon checks the open fd itself too (nothing can swap the file between a check and the open).
      assert.throws(() => SharedMemory.open(shm, { size: SIZE, create: true }), new RegExp(`refusing ${shm}: it belongs to another user \\(owner uid 65534, this process runs as uid 0\\)`));
      chownSync(shm, 0, 0);
      assert.match(await refused(file), new RegExp(`refusing ${shm}: other users may write it \\(mode 0666\\)`));
      const plain = config('plain.yaml', `chips: [{ name: ${name}, mode: plain }]\n`);
      assert.match(await refused(plain), /other users may write it/);
      assert.deepEqual(readFileSync(shm), planted, 'the bridge wrote nothing into it');
      rmSync(shm);
      symlinkSync(join(dir, 'elsewhere.shm'), shm);
      assert.match(await refused(plain), /is a symlink; refusing to follow it/);
      assert.equal(existsSync(join(dir, 'elsewhere.shm')), false);
    } finally {
      rmSync(shm, { force: true });
    }
  });

  it('refuses to replace a stale socket another user left at its path', async () => {
    const path = join(dir, 's1.sock');
    binding.closeFd(binding.unixListen(path, 0o600, 1));
    chownSync(path, NOBODY, NOBODY);
    const file = config('stale.yaml', `chips: [{ name: s1, socket: ${path}, shm: ${dir}/s1.shm }]\n`);
    assert.match(await refused(file), /refusing socket .*\/s1\.sock: it belongs to another user/);
    assert.equal(lstatSync(path).uid, NOBODY, 'their socket is left alone');
    const agent = config('agent.yaml', `chips: [{ name: s2, mode: plain, shm: ${dir}/s2.shm, agent_socket: ${path} }]\n`);
    assert.match(await refused(agent), /refusing socket .*\/s1\.sock: it belongs to another user/);
  });

  it('gives a non-root user\'s bridge a private folder of its own, and refuses one squatted by someone else', async () => {
    const runtime = `/tmp/vgpio2mqtt-${NOBODY}`;
    rmSync(runtime, { recursive: true, force: true });
    const unreach = letNobodyReach(join(import.meta.dirname, '../..'));
    chmodSync(dir, 0o755);
    const file = config('nobody.yaml', `chips: [{ name: n1, shm: ${runtime}/n1.shm }]\n`);
    chmodSync(file, 0o644);
    const start = (): ReturnType<typeof spawn> =>
      spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '--import', 'tsx', CLI, 'start', '-c', file], {
        stdio: ['ignore', 'ignore', 'pipe'],
        // No XDG_RUNTIME_DIR and no RUNTIME_DIRECTORY: the per-user folder in /tmp.
        env: { PATH: process.env.PATH, HOME: '/nonexistent' },
      });
    try {
      const bridge = start();
      let log = '';
      bridge.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
      const exit = new Promise<number | null>((resolve) => bridge.once('exit', resolve));
      await until('the bridge to run', () => bridgeConnected(log) || bridge.exitCode !== null, 60_000);
      const stats = statSync(runtime);
      assert.deepEqual([stats.uid, stats.mode & 0o777], [NOBODY, 0o700], log);
      assert.ok(lstatSync(join(runtime, 'n1.sock')).isSocket(), log);
      bridge.kill('SIGTERM');
      assert.equal(await exit, 0, log);

      // Someone else (root here) made the folder first: nobody's bridge refuses it.
      rmSync(runtime, { recursive: true });
      mkdirSync(runtime, { mode: 0o700 });
      const squatted = start();
      let refusal = '';
      squatted.stderr?.on('data', (chunk: Buffer) => (refusal += chunk.toString()));
      assert.equal(await new Promise((resolve) => squatted.once('exit', resolve)), 1, refusal);
      assert.match(refusal, /cannot start: .*refusing the runtime folder \/tmp\/vgpio2mqtt-65534: it belongs to another user \(owner uid 0, mode 0700; this process runs as uid 65534\)/);
    } finally {
      rmSync(runtime, { recursive: true, force: true });
      unreach();
    }
  });
});
