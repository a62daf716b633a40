/**
 * The long-lived ivshmem server of a server-mode chip, as the bridge
 * starts and joins it (bridge/chip/server-process.ts): a real detached
 * process, real peers (IvshmemClient). It is started only when nobody
 * listens, is no peer itself, records the stale driver generation on start
 * and when the guest's peer leaves, refuses to serve a configuration it was
 * not started with, and goes away when stopped (SIGTERM) or idle.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IvshmemClient, protocol, SharedMemory } from '../../native/index.ts';
import { until } from '../../testkit/until.ts';
import { daemonArgs, joinOrStartServer, parseDaemonArgs, pidFile, startMissingServers, startServers, stopServer, type DaemonReport, type ServerSpec } from '../../bridge/chip/server-process.ts';

const dir = mkdtempSync('/dev/shm/vgpio-daemon-');
const started = new Set<number>();

function spec(name: string, changes: Partial<ServerSpec> = {}): ServerSpec {
  return { socket: join(dir, `${name}.sock`), shm: join(dir, `${name}.shm`), size: 8192, vectors: 1, socketMode: 0o600, idleMs: 60_000, ...changes };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const note = (report: DaemonReport): void => void started.add(report.pid);

async function join_(s: ServerSpec): Promise<IvshmemClient> {
  return joinOrStartServer(s, note);
}

describe('the long-lived ivshmem server of a server-mode chip', () => {
  after(() => {
    for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('is started once when nobody listens, is no peer itself, and is joined by the next bridge', async () => {
    const s = spec('once');
    const first = await join_(s);
    assert.equal(started.size, 1);
    const [pid] = started;
    assert.equal(Number(readFileSync(pidFile(s.socket), 'utf8')), pid);
    assert.equal(lstatSync(s.socket).mode & 0o777, 0o600);
    assert.deepEqual(first.peers(), [], 'the server announces no peer of its own');
    assert.equal(first.shm.size, 8192);

    const second = await join_(s);
    assert.equal(started.size, 1, 'a running server is joined, not started again');
    assert.deepEqual(second.peers().map((p) => p.id), [first.id]);
    await until('the first peer to see the second', () => first.peers().some((p) => p.id === second.id));
    await first.close();
    await second.close();
    assert.ok(alive(pid ?? 0), 'the server outlives its peers');
  });

  it('records guest_gen as stale when it starts and when the peer named as the guest leaves, not for others', async () => {
    const s = spec('stale');
    const file = SharedMemory.open(s.shm, { size: s.size, create: true });
    file.store32(protocol.HDR_GUEST_GEN, 7); // a driver of an earlier guest was bound
    file.store32(protocol.HDR_GUEST_PEER, 1);
    const bridge = await join_(s);
    assert.equal(file.load32(protocol.HDR_STALE_GEN), 7, 'on start');

    const guest = await IvshmemClient.connect(s.socket);
    const other = await IvshmemClient.connect(s.socket);
    file.store32(protocol.HDR_GUEST_PEER, guest.id); // what the driver does on probe
    file.store32(protocol.HDR_GUEST_GEN, 9);
    await other.close();
    await until('the leave to reach the bridge', () => !bridge.peers().some((p) => p.id === other.id));
    assert.equal(file.load32(protocol.HDR_STALE_GEN), 7, 'another peer leaving proves nothing stale');
    await guest.close();
    await until('the guest\'s leave to be recorded', () => file.load32(protocol.HDR_STALE_GEN) === 9);
    await bridge.close();
    file.close();
  });

  it('refuses, with what differs, a running server of another size, vector count or file; it keeps running', async () => {
    const s = spec('strict');
    const first = await join_(s);
    const pid = Number(readFileSync(pidFile(s.socket), 'utf8'));
    await assert.rejects(join_({ ...s, size: 16384 }), /serves 8192 bytes of shared memory, the configuration says 16384; stop it \(kill \$\(cat \S+strict\.sock\.pid\)\)/);
    await assert.rejects(join_({ ...s, vectors: 2 }), /gives 1 vector\(s\) per peer, the configuration says 2/);
    await assert.rejects(join_({ ...s, shm: join(dir, 'elsewhere.shm') }), /does not serve \S+elsewhere\.shm/);
    assert.ok(alive(pid));
    await until('the refused joins to leave again', () => first.peers().length === 0);
    await first.close();
  });

  it('takes its servers as the bridge gives them, and says what is wrong with anything else', () => {
    const specs = [spec('x'), spec('y', { vectors: 4 })];
    assert.deepEqual(parseDaemonArgs(daemonArgs(specs)), specs);
    assert.throws(() => parseDaemonArgs(['--servers', '[]']), /--servers must be a non-empty JSON list of servers/);
    assert.throws(() => parseDaemonArgs(['--servers', '{']), /--servers must be a JSON list of servers/);
    assert.throws(() => parseDaemonArgs(['--servers', JSON.stringify([{ ...spec('z'), size: -1 }])]), /server 0: size must be a non-negative integer, got -1/);
    assert.throws(() => parseDaemonArgs(['--servers', JSON.stringify([{ ...spec('z'), shm: '' }])]), /server 0: shm must be a path, got ""/);
    assert.throws(() => parseDaemonArgs(['--other', 'x']), /Unknown option '--other'/);
  });

  it('reports why it cannot start: a path that is not a socket is never taken over', async () => {
    const s = spec('file');
    writeFileSync(s.socket, 'not a socket');
    await assert.rejects(join_(s), /cannot listen on \S+file\.sock: it exists and is not a socket/);
    assert.equal(readFileSync(s.socket, 'utf8'), 'not a socket');
  });

  it('is stopped by stopServer (SIGTERM), removing its socket and pid file (the shared memory stays); a stale pid file names nobody to kill', async () => {
    const s = spec('term');
    const { report, release } = await startServers([s]);
    release();
    assert.deepEqual(report.failed, {});
    const pid = report.pid;
    started.add(pid);
    assert.equal(await stopServer(s.socket), true);
    await until('the server to exit', () => !alive(pid));
    assert.equal(await stopServer(s.socket), false, 'nothing runs there any more');
    writeFileSync(pidFile(s.socket), `${process.pid}\n`);
    assert.equal(await stopServer(s.socket), false, 'a pid that is not our server is left alone');
    rmSync(pidFile(s.socket));
    assert.equal(existsSync(s.socket), false);
    assert.equal(existsSync(pidFile(s.socket)), false);
    assert.ok(existsSync(s.shm));
  });

  it('serves the chips that need one from one process; each server closes once idle, then the process exits', async () => {
    const running = spec('running');
    const keep = await join_(running);
    const before = started.size;
    const a = spec('a', { idleMs: 300 });
    const b = spec('b', { idleMs: 300 });
    const sockets: string[][] = [];
    const release = await startMissingServers([running, a, b, { ...spec('bad'), socket: join(dir, 'no-such-dir', 'x.sock') }], (report, listening) => {
      note(report);
      sockets.push(listening);
    });
    assert.equal(started.size, before + 1, 'one process');
    assert.deepEqual(sockets, [[a.socket, b.socket]], 'for the missing servers that could start');
    const pid = Number(readFileSync(pidFile(a.socket), 'utf8'));
    assert.equal(Number(readFileSync(pidFile(b.socket), 'utf8')), pid);
    const peer = await join_(a);
    assert.equal(started.size, before + 1, 'joined, not started again');
    release();
    await until('b to close once idle', () => !existsSync(b.socket));
    await new Promise((r) => setTimeout(r, 600));
    assert.ok(existsSync(a.socket) && alive(pid), 'a server with a peer stays');
    await peer.close();
    await until('the process to exit with its last server', () => !alive(pid));
    assert.equal(existsSync(a.socket), false);
    assert.equal(existsSync(pidFile(a.socket)), false);
    await keep.close();
  });

  it('keeps a server nobody joined yet while the bridge that started it holds it, however long; its idle time starts at release', async () => {
    const slow = spec('slow', { idleMs: 200 });
    const release = await startMissingServers([slow], note);
    const pid = Number(readFileSync(pidFile(slow.socket), 'utf8'));
    const processes = started.size;
    // Much longer than its idle time: a bridge opening hundreds of chips before this one.
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(existsSync(slow.socket) && alive(pid), 'still serving while held');
    const peer = await join_(slow);
    assert.equal(started.size, processes, 'no process of its own');
    assert.equal(Number(readFileSync(pidFile(slow.socket), 'utf8')), pid, 'joined the server it started, not one of its own');
    release();
    await peer.close();
    await until('the server to close once idle after release', () => !existsSync(slow.socket));
    await until('its process to exit', () => !alive(pid));
  });
});
