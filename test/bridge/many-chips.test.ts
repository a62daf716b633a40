/**
 * Many chips on one bridge (issue 25): the compiled CLI with 256
 * server-mode chips of 32 lines and no guest. However long opening them
 * takes, one ivshmem server process serves them all (the servers used to
 * close after their idle time before the last chips joined, and each of
 * those chips then started a process of its own); `bridge/state` goes
 * online; the log summarises the chips instead of two lines each; idle, the
 * bridge wakes up about as often as a bridge of one chip (one poll timer for
 * all chips, the metrics' event-loop sampler once a second).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BridgeProcess } from '../../bench/bridge-process.ts';
import { stopServer } from '../../bridge/chip/server-process.ts';
import { freePort } from '../../testkit/ports.ts';

const CHIPS = 256;

/** The distinct pids named by the pid files next to the chips' sockets. */
function pidFilePids(dir: string): Set<number> {
  return new Set(readdirSync(dir).filter((f) => f.endsWith('.sock.pid')).map((f) => Number(readFileSync(join(dir, f), 'utf8'))));
}

/** Times the bridge's main thread went to sleep and was woken up since it started (/proc: its voluntary context switches). */
function wakeUps(pid: number): number {
  const count = /voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(count ?? assert.fail(`no context switches for ${pid}`));
}

/** Running ivshmem server processes whose command line names `dir`. */
function serverProcesses(dir: string): number[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps.split('\n').filter((line) => line.includes('ivshmem-daemon') && line.includes(dir)).map((line) => Number(line.trim().split(' ')[0]));
}

describe(`one bridge, ${CHIPS} server-mode chips of 32 lines`, { timeout: 240_000 }, () => {
  let dir: string;
  let bridge: BridgeProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-many-'));
    const port = await freePort();
    const list = Array.from({ length: CHIPS }, (_, i) => `  - { name: c${i}, ngpio: 32, socket: ${dir}/c${i}.sock, shm: ${dir}/c${i}.shm }`).join('\n');
    const config = `base_topic: many\nlog_level: info\nbroker: { port: ${port} }\nmetrics: { port: ${await freePort()} }\nweb: { enabled: false }\nchips:\n${list}\n`;
    bridge = await BridgeProcess.start({ config, dir, url: `mqtt://127.0.0.1:${port}`, baseTopic: 'many', build: 'dist', onlineWithinMs: 120_000 });
  });

  after(async () => {
    await bridge.stop();
    for (const socket of readdirSync(dir).filter((f) => f.endsWith('.sock'))) await stopServer(join(dir, socket));
    for (const pid of serverProcesses(dir)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('goes online, with one ivshmem server process for all chips', (t) => {
    t.diagnostic(`start -> bridge/state online: ${(bridge.startMs / 1000).toFixed(1)} s`);
    const pids = pidFilePids(dir);
    const running = serverProcesses(dir);
    t.diagnostic(`server processes: ${running.length} running, ${pids.size} named by pid files`);
    assert.equal(pids.size, 1, `pid files name ${[...pids].join(', ')}`);
    assert.deepEqual(running, [...pids]);
  });

  it('summarises the chips in the startup log', (t) => {
    const lines = bridge.log.split('\n').filter((line) => line !== '');
    t.diagnostic(`startup log: ${lines.length} lines`);
    assert.ok(lines.length < CHIPS, `${lines.length} log lines for ${CHIPS} chips:\n${lines.slice(0, 20).join('\n')}`);
  });

  it('wakes up idle about once per poll period, not once per chip', async (t) => {
    const pid = bridge.child.pid ?? assert.fail('no bridge pid');
    const seconds = 3;
    const before = wakeUps(pid);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const perSecond = (wakeUps(pid) - before) / seconds;
    t.diagnostic(`idle wake-ups of the bridge's main thread: ${perSecond.toFixed(1)}/s`);
    // One poll tick and one event-loop sample a second, plus the odd GC or broker timer; a timer per chip was 256/s.
    assert.ok(perSecond < CHIPS / 8, `${perSecond}/s`);
  });
});
