/**
 * Many chips on one bridge, and one-shot clients (issue 25): the compiled
 * bridge with `many` server-mode chips of 32 lines against 1 and `some`
 * chips: start-up (spawn -> `bridge/state` online), ivshmem server
 * processes, RSS idle (the bridge and its server process), idle CPU, and
 * commands/s round robin over the chips (a fake guest bound on every
 * chip, acknowledging each interrupt) against the same over one chip; and
 * the one-shot client row (one-shot.ts).
 *
 * Where the time goes (profiles of December 2026, 2 shared cores):
 * - Start-up of 256 chips: before, 13 s of 14.6 were idle, each chip's
 *   ivshmem handshake waiting 50 ms to settle, one chip after the other;
 *   they now join at once (bridge/chip/open-chips.ts). What is left is CPU
 *   per chip: the configuration (YAML, schema: ~0.18 s for 256), each
 *   line's metrics series (~0.16 s), the first scan and the retained
 *   states and configs published (~0.2 s), and the garbage of all that.
 * - Idle: a chip with no peer on its ivshmem server is not polled (the
 *   monitor's #alone), and one poll clock serves all chips. Settled, in
 *   10 s the bridge made 48 epoll_wait calls and used 0 to 1 ticks of
 *   10 ms, the server process none. What the first minute shows is V8
 *   returning start-up's heap: in the server process ~40 ms of GC at 9 s,
 *   in the bridge a memory-reducing Mark-Compact at 32 s (~130 ms;
 *   committed heap 72 -> 29 MB, RSS 134 -> 91 MiB for 256 chips; --trace-gc),
 *   which is why RSS and idle CPU are read settledMs after online.
 * - Round robin over 256 chips against one (8 s floods, at most 64 in
 *   flight, CPU from /proc): 1 chip 60.3 to 61.8k commands/s, the bridge
 *   at 101 to 103 % of a core (16.6 µs a command), this process (publisher
 *   and fake guests) at 53 %; 256 chips 28.5 to 32.8k, the bridge at 41 to
 *   42 % (12.5 to 14.6 µs a command), this process at 20 to 23 %. So not
 *   CPU: the window waits for guest acknowledgements, and over one chip a
 *   turn's commands share a doorbell and a guest wake-up, where over 256
 *   chips each command rings its own chip and wakes its own fake guest.
 * - One-shot client (profiles of December 2026, the compiled bridge under
 *   --cpu-prof and raw CONNECT -> PUBLISH -> DISCONNECT clients; this
 *   machine shared with other work, so figures moved by +-30% from run to
 *   run, ratios measured with the variants alternated sample by sample):
 *   the bridge's CPU per client was about 1 ms. Removed from the path: the
 *   CONNACK waited for the next check phase in oneWritePerTurn (now it
 *   leaves at the end of its tick), Aedes' per-client $SYS publications
 *   (one through the router before each CONNACK, more at the close; no
 *   longer published, client-announcements.ts) and a getpeername per
 *   connection. Raw clients, connect -> doorbell p50: 0.86-0.95x of before
 *   (4 runs of 1000); mosquitto_pub: 0.97x of before, embedded vs Mosquitto
 *   1.10-1.15x before, 1.07-1.12x after. What is left is Node's and
 *   Aedes' per connection, none of it ours: a net.Socket (~60 us) and an
 *   Aedes client (~55 us, 35 of them mqtt-packet's parser building a
 *   readable-stream BufferListStream it only uses as a BufferList), Aedes'
 *   emptyQueue stream pipeline for a clean session's empty queue (~55 us
 *   after the CONNACK, ~70 more when it ends), the CONNACK writev and the
 *   close (~0.1 ms each, mostly waking the client on this machine), and
 *   garbage collection (~0.13 ms a client on average). The guards (frame
 *   guard, output bound, rate limiter, login check) are a few us each.
 */
import mqtt from 'mqtt';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IvshmemClient } from '../native/index.ts';
import { FakeGuest } from '../testkit/fake-guest.ts';
import { freePort } from '../testkit/ports.ts';
import { rssBytes } from '../testkit/rss.ts';
import { until } from '../testkit/vgpio-host.ts';
import { BridgeProcess, type BridgeBuild } from './bridge-process.ts';
import { oneShotLatency, type OneShot } from './one-shot.ts';
import { msSince, ms } from './samples.ts';

const LINES = 32;
const BASE = 'scale';

export interface ScaleCounts {
  /** The many-chip bridge's chips (256), and the few-chip one RSS is compared with (16). */
  many: number;
  some: number;
  /** How long the idle CPU is measured, and how long each command flood runs. */
  idleMs: number;
  /**
   * When RSS and idle CPU are read, after \`bridge/state\` online: a bridge
   * that is idle. V8's memory reducer returns what start-up allocated
   * (the young generation grown to its maximum, the garbage) 30 to 50 s
   * after start; until then a 256-chip bridge holds about 43 MiB more.
   */
  settledMs: number;
  floodSeconds: number;
  window: number;
  /** One-shot `mosquitto_pub` samples per broker. */
  oneShots: number;
}

export const FULL_SCALE: ScaleCounts = { many: 256, some: 16, idleMs: 10_000, settledMs: 60_000, floodSeconds: 10, window: 64, oneShots: 200 };

export interface ScaleResults {
  counts: ScaleCounts;
  startMs: { one: number; many: number };
  serverProcesses: number;
  /** Settled (counts.settledMs after online), and 10 s after online (start-up's heap not yet returned). */
  rssMiB: { some: number; many: number; someEarly: number; manyEarly: number };
  /** Bridge and server process together, percent of one core. */
  idleCpuPercent: number;
  commandsPerSecond: { one: number; many: number };
  oneShot: OneShot;
}

/** A bridge of `chips` server-mode chips of 32 lines, no guest yet. */
class ScaleRig {
  readonly dir: string;
  readonly url: string;
  readonly bridge: BridgeProcess;

  private constructor(dir: string, url: string, bridge: BridgeProcess) {
    this.dir = dir;
    this.url = url;
    this.bridge = bridge;
  }

  static async start(chips: number, build: BridgeBuild): Promise<ScaleRig> {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-bench-scale-'));
    const port = await freePort();
    const list = Array.from({ length: chips }, (_, i) => `  - { name: c${i}, ngpio: ${LINES}, socket: ${dir}/c${i}.sock, shm: ${dir}/c${i}.shm, queue_limit: 1024 }`).join('\n');
    const config = `base_topic: ${BASE}\nlog_level: warn\nbroker: { port: ${port}, max_publish_rate: null }\nmetrics: { port: ${await freePort()} }\nweb: { enabled: false }\nhomeassistant: { enabled: false }\nchips:\n${list}\n`;
    const url = `mqtt://127.0.0.1:${port}`;
    try {
      return new ScaleRig(dir, url, await BridgeProcess.start({ config, dir, url, baseTopic: BASE, build, onlineWithinMs: 120_000 }));
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** The distinct server processes named by the chips' pid files. */
  serverPids(): number[] {
    return [...new Set(readdirSync(this.dir).filter((f) => f.endsWith('.sock.pid')).map((f) => Number(readFileSync(join(this.dir, f), 'utf8'))))];
  }

  /** CPU seconds (user + system) of `pid` so far, from /proc. */
  static cpuSeconds(pid: number): number {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
    return (Number(fields[11]) + Number(fields[12])) / ticks;
  }

  async close(): Promise<void> {
    await this.bridge.stop();
    for (const pid of this.serverPids()) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Commands/s over `seconds`, round robin over every chip (then over the
 * lines of each), each a change, at most `window` unacknowledged by the
 * guests; the time runs until every command's interrupt was acknowledged.
 */
async function roundRobin(rig: ScaleRig, chips: number, seconds: number, window: number): Promise<number> {
  const guests: { client: IvshmemClient; guest: FakeGuest }[] = [];
  let acked = 0;
  let wake: (() => void) | undefined;
  const publisher = await mqtt.connectAsync(rig.url, { reconnectPeriod: 0 });
  try {
    for (let c = 0; c < chips; c++) {
      const client = await IvshmemClient.connect(join(rig.dir, `c${c}.sock`));
      const guest = new FakeGuest(client.shm, client);
      client.on('ring', () => {
        acked += guest.ack().length;
        wake?.();
      });
      guest.bind();
      for (let line = 0; line < LINES; line++) guest.enableIrq(line, { rising: true, falling: true });
      guest.ringHost();
      guests.push({ client, guest });
    }
    const levels = new Map<string, 0 | 1>();
    let sent = 0;
    const start = process.hrtime.bigint();
    while (msSince(start) < seconds * 1000) {
      if (sent - acked >= window) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const chip = sent % chips;
      const line = Math.floor(sent / chips) % LINES;
      const key = `${chip}/${line}`;
      const level = levels.get(key) === 1 ? 0 : 1;
      levels.set(key, level);
      publisher.publish(`${BASE}/c${chip}/${line}/set`, level === 1 ? 'ON' : 'OFF', { qos: 1 });
      sent += 1;
      if (sent % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await until(`all ${sent} commands acknowledged by the guests`, () => acked >= sent, 30_000);
    return acked / (msSince(start) / 1000);
  } finally {
    wake = undefined;
    await publisher.endAsync();
    for (const { client } of guests) await client.close();
  }
}

export async function scaleBench(counts: ScaleCounts, build: BridgeBuild, log: (line: string) => void): Promise<ScaleResults> {
  // The few-chip bridge first: it also warms the caches the 1-chip start-up is then measured with.
  log(`scale: ${counts.some} chips`);
  const some = await ScaleRig.start(counts.some, build);
  const rssOf = (rig: ScaleRig): number => rig.bridge.rssMiB() + rig.serverPids().reduce((sum, pid) => sum + rssBytes(pid) / (1 << 20), 0);
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
  const early = Math.min(counts.idleMs, counts.settledMs);
  let rssSome: number;
  let rssSomeEarly: number;
  try {
    await sleep(early);
    rssSomeEarly = rssOf(some);
    await sleep(counts.settledMs - early);
    rssSome = rssOf(some);
  } finally {
    await some.close();
  }
  log('scale: 1 chip');
  const one = await ScaleRig.start(1, build);
  let commandsOne: number;
  try {
    commandsOne = await roundRobin(one, 1, counts.floodSeconds, counts.window);
  } finally {
    await one.close();
  }
  log(`scale: ${counts.many} chips`);
  const many = await ScaleRig.start(counts.many, build);
  let figures: Omit<ScaleResults, 'counts' | 'oneShot'>;
  try {
    const pids = many.serverPids();
    const bridgePid = many.bridge.child.pid ?? 0;
    await sleep(early);
    const rssManyEarly = rssOf(many);
    // Settled first: start-up's retained publications and garbage, and V8 returning its heap, are not idle work.
    await sleep(counts.settledMs - early - counts.idleMs);
    const cpu = (): number => [bridgePid, ...pids].reduce((sum, pid) => sum + ScaleRig.cpuSeconds(pid), 0);
    const before = cpu();
    await sleep(counts.idleMs);
    const idleCpuPercent = ((cpu() - before) / (counts.idleMs / 1000)) * 100;
    const rssMany = rssOf(many);
    const commandsMany = await roundRobin(many, counts.many, counts.floodSeconds, counts.window);
    figures = {
      startMs: { one: one.bridge.startMs, many: many.bridge.startMs },
      serverProcesses: pids.length,
      rssMiB: { some: rssSome, many: rssMany, someEarly: rssSomeEarly, manyEarly: rssManyEarly },
      idleCpuPercent,
      commandsPerSecond: { one: commandsOne, many: commandsMany },
    };
  } finally {
    await many.close();
  }
  log('scale: one-shot clients');
  return { counts, ...figures, oneShot: await oneShotLatency(counts.oneShots, build) };
}

export const SCALE_HEADING = '### 8. Many chips and one-shot clients';

export function scaleReport(r: ScaleResults): string {
  const { many, some } = r.counts;
  const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
  return [
    `${SCALE_HEADING} (bench/scale.ts; server-mode chips of ${LINES} lines, embedded broker)`,
    '',
    '| figure | value | baseline | ratio |',
    '|---|---|---|---|',
    `| start → \`bridge/state\` online, ${many} × ${LINES} vs 1 × ${LINES} | ${(r.startMs.many / 1000).toFixed(2)} s | ${(r.startMs.one / 1000).toFixed(2)} s | ${ratio(r.startMs.many, r.startMs.one)} |`,
    `| ivshmem server processes, ${many} chips | ${r.serverProcesses} | | |`,
    `| RSS idle (bridge + server process), ${many} × ${LINES} vs ${some} × ${LINES}, ${r.counts.settledMs / 1000} s after online | ${r.rssMiB.many.toFixed(1)} MiB | ${r.rssMiB.some.toFixed(1)} MiB | ${ratio(r.rssMiB.many, r.rssMiB.some)} |`,
    `| RSS (bridge + server process) ${Math.min(r.counts.idleMs, r.counts.settledMs) / 1000} s after online, before V8 returns start-up's heap, ${many} × ${LINES} vs ${some} × ${LINES} | ${r.rssMiB.manyEarly.toFixed(1)} MiB | ${r.rssMiB.someEarly.toFixed(1)} MiB | ${ratio(r.rssMiB.manyEarly, r.rssMiB.someEarly)} |`,
    `| idle CPU (bridge + server process), ${many} × ${LINES}, no guests, over ${r.counts.idleMs / 1000} s until ${r.counts.settledMs / 1000} s after online | ${r.idleCpuPercent.toFixed(2)} % of a core | | |`,
    `| commands/s round robin, ${many} chips vs 1 chip (${r.counts.floodSeconds} s, at most ${r.counts.window} in flight) | ${Math.round(r.commandsPerSecond.many)} | ${Math.round(r.commandsPerSecond.one)} | ${ratio(r.commandsPerSecond.many, r.commandsPerSecond.one)} |`,
    `| one-shot client (\`mosquitto_pub\` per command) \`.../set\` → doorbell p50, embedded vs Mosquitto as shipped (${r.oneShot.embedded.n} each) | ${ms(r.oneShot.embedded.p50)} ms | ${ms(r.oneShot.mosquitto.p50)} ms | ${ratio(r.oneShot.embedded.p50, r.oneShot.mosquitto.p50)} |`,
    '',
  ].join('\n');
}
