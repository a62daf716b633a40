/**
 * Generated waveforms and wires measured in a real TCG guest, for
 * test/signals/guest-signals.test.ts and two-guests.test.ts (which assert on what it returns)
 * and the bench (`npm run bench:signals` runs this file alone; `npm run
 * bench` appends its section to a full run).
 * One boot: a bridge (in this process, embedded broker) with two
 * server-mode chips, both attached to one x86_64 guest running vgpio.ko
 * in doorbell mode, and a wire from chip A's output `out` to chip B's
 * input `in`. With `guests: 2` (test/signals/two-guests.test.ts) chip A is
 * in one guest and chip B in another, booted in parallel. A guest program
 * (testkit/programs/edgemon, uAPI v2) timestamps every edge with the guest's
 * CLOCK_MONOTONIC, the clock of the bridge's `guest_ns`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stopServer } from '../bridge/chip/server-process.ts';
import { loadSettings } from '../bridge/settings/load.ts';
import type { ChipConfig } from '../bridge/settings/types.ts';
import { Controller } from '../bridge/controller.ts';
import { Logger } from '../bridge/log.ts';
import { qemuArgs } from '../bridge/guest-setup/qemu-args.ts';
import { buildVgpio, type ModuleBuild } from '../testkit/build-module.ts';
import { buildEdgemon, chipByLabel, GPIOD_TOOLS, until } from '../testkit/vgpio-host.ts';
import { Guest } from '../testkit/guest.ts';
import { guestKernel } from '../testkit/kernel.ts';
import { MqttProbe } from '../testkit/mqtt-probe.ts';
import { machine } from './machine.ts';
import { readResults, writeResults } from './results-io.ts';
import { withPartialRun } from './results-file.ts';
import { freePort } from '../testkit/ports.ts';
import type { MetricKey } from '../bridge/metrics/table.ts';

const run = promisify(execFile);
const BASE = 'sg';
export const CHIP_A = 'siga';
export const CHIP_B = 'sigb';

/** An edge as edgemon printed it in the guest. */
export interface GuestEdge {
  seq: number;
  level: 0 | 1;
  ns: number;
}

/** An edge the bridge published on `.../edge`. */
export interface BridgeEdge {
  edge: 'rising' | 'falling';
  source: string;
  guest_ns?: number;
}

export interface Seen {
  guest: GuestEdge[];
  bridge: BridgeEdge[];
  /** When the bridge wrote each edge, in host monotonic milliseconds (performance.now()), in order. */
  hostMs: number[];
}

/** p50 and p99 of absolute values, and the count. */
export interface Spread {
  n: number;
  p50: number;
  p99: number;
}

export function spread(values: readonly number[]): Spread {
  const sorted = values.map(Math.abs).sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99) };
}

/** Rising-to-rising intervals minus the requested period, in milliseconds, from each rising edge's time in milliseconds. */
export function periodErrors(risingMs: readonly number[], periodMs: number): number[] {
  return risingMs.slice(1).map((t, i) => t - (risingMs[i] ?? t) - periodMs);
}

/** Chip A's side or chip B's. */
export type Side = 'a' | 'b';

export class SignalsRig {
  readonly #dir: string;
  readonly #controller: Controller;
  readonly #probe: MqttProbe;
  readonly #port: number;
  readonly #vgpio: ModuleBuild;
  /** The guest of chip A and of chip B: one guest twice, or two. */
  readonly guests: Record<Side, Guest>;
  /** gpiochipN of chip A and B in their guests. */
  readonly devices: Record<Side, string>;
  #monitors = 0;

  private constructor(dir: string, controller: Controller, probe: MqttProbe, port: number, vgpio: ModuleBuild, guests: Record<Side, Guest>, devices: Record<Side, string>) {
    this.#dir = dir;
    this.#controller = controller;
    this.#probe = probe;
    this.#port = port;
    this.#vgpio = vgpio;
    this.guests = guests;
    this.devices = devices;
  }

  /** The two chips in one guest (the default), or chip A in one guest and chip B in another. */
  static async start(options: { guests: 1 | 2 } = { guests: 1 }): Promise<SignalsRig> {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-signals-'));
    const port = await freePort();
    const config = join(dir, 'config.yaml');
    const chip = (name: string, lines: string): string => `  - { name: ${name}, socket: ${dir}/${name}.sock, shm: ${dir}/${name}.shm, ngpio: 8, lines: [${lines}] }\n`;
    writeFileSync(
      config,
      `base_topic: ${BASE}
broker: { port: ${port} }
metrics: { port: null }
web: { enabled: false }
homeassistant: { enabled: false }
chips:
${chip(CHIP_A, '{ line: 0, name: wave }, { line: 1, name: bouncy }, { line: 2, name: out, direction: output }')}${chip(CHIP_B, '{ line: 0, name: in }')}wires:
  - { from: ${CHIP_A}/out, to: [${CHIP_B}/in] }
`,
    );
    const settings = loadSettings({ args: ['-c', config], env: {} });
    const controller = await Controller.start(settings, { log: new Logger('warn') });
    const probe = await MqttProbe.connect(`mqtt://127.0.0.1:${port}`, [`${BASE}/+/+/edge`]);
    const vgpio = buildVgpio(guestKernel().headersDir);
    const edgemon = buildEdgemon(dir);
    const boot = (chips: ChipConfig[]): Promise<Guest> => Guest.boot({
      binaries: GPIOD_TOOLS,
      files: [
        { dest: '/lib/vgpio.ko', src: vgpio.ko, mode: 0o644 },
        { dest: '/usr/bin/edgemon', src: edgemon, mode: 0o755 },
      ],
      initCommands: ['insmod /lib/vgpio.ko'],
      qemuArgs: chips.flatMap((c) => qemuArgs(c)),
    });
    let guests: Record<Side, Guest>;
    if (options.guests === 1) {
      const guest = await boot(settings.chips);
      guests = { a: guest, b: guest };
    } else {
      // In parallel: each TCG guest boots on its own host thread.
      const booted = await Promise.allSettled(settings.chips.map((c) => boot([c])));
      const [a, b] = booted.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
      if (a === undefined || b === undefined) {
        for (const guest of [a, b]) await guest?.close();
        throw new Error(`a guest did not boot: ${booted.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : [])).join('; ')}`);
      }
      guests = { a, b };
    }
    await until('both chips online', () => [...controller.chips.values()].every((c) => c.online), 60_000);
    const devices = { a: await chipByLabel(guests.a, CHIP_A), b: await chipByLabel(guests.b, CHIP_B) };
    return new SignalsRig(dir, controller, probe, port, vgpio, guests, devices);
  }

  /** Chip A's guest (in the one-guest rig, the guest). */
  get guest(): Guest {
    return this.guests.a;
  }

  /** Publishes a command on `<chip>/<line>/set` with mosquitto_pub, as a user would. */
  async set(chip: string, line: string, payload: string): Promise<void> {
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(this.#port), '-q', '1', '-t', `${BASE}/${chip}/${line}/set`, '-m', payload]);
  }

  /** Counts of what the bridge recorded (bridge/request/health's counters). */
  counter(name: MetricKey, ...labels: string[]): number {
    return this.#controller.counters.total(name, ...labels);
  }

  /**
   * Watches `line` of chip `side`'s device in its guest with edgemon while
   * `act` runs, then until the guest saw as many edges as the bridge
   * published on `chip`/`name` (or 5 s more), and returns both.
   */
  async watch(side: Side, line: number, chip: string, name: string, act: () => Promise<void>): Promise<Seen> {
    const guest = this.guests[side];
    const file = `/tmp/mon${++this.#monitors}`;
    await guest.exec(`( edgemon /dev/${this.devices[side]} ${line} 100000000 both ts > ${file} 2>&1 & echo $! > ${file}.pid )`);
    await guest.untilWaitingForInput('edgemon');
    const from = this.#probe.mark;
    const hostMs: number[] = [];
    const chipOf = this.#controller.chips.get(chip);
    const stamp = (edge: { line: { name: string } }): void => {
      if (edge.line.name === name) hostMs.push(performance.now());
    };
    chipOf?.on('edge', stamp);
    await act();
    const bridge = (): BridgeEdge[] => this.#probe.on(`${BASE}/${chip}/${name}/edge`, from).map((m) => JSON.parse(m.payload) as BridgeEdge);
    const guestEdges = async (): Promise<GuestEdge[]> =>
      (await guest.exec(`cat ${file}`))
        .split('\n')
        .map((l) => l.trim().split(' '))
        .filter((w) => w.length === 3)
        .map(([seq, level, ns]) => ({ seq: Number(seq), level: level === '1' ? 1 : 0, ns: Number(ns) }));
    let seen: GuestEdge[] = [];
    await until('the guest to see every published edge', async () => (seen = await guestEdges()).length >= bridge().length, 5_000).catch(() => undefined);
    // Long enough for an extra edge to show up behind the last one; never a timing assertion.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    seen = await guestEdges();
    await guest.exec(`kill $(cat ${file}.pid)`);
    chipOf?.off('edge', stamp);
    return { guest: seen, bridge: bridge(), hostMs };
  }

  /** The bridge's edges of `<chip>/<name>` published since `from` (see mark). */
  edges(chip: string, name: string, from: number): BridgeEdge[] {
    return this.#probe.on(`${BASE}/${chip}/${name}/edge`, from).map((m) => JSON.parse(m.payload) as BridgeEdge);
  }

  get mark(): number {
    return this.#probe.mark;
  }

  async close(): Promise<void> {
    for (const guest of new Set(Object.values(this.guests))) await guest.close();
    await this.#probe.close();
    const sockets = this.#controller.settings.chips.flatMap((c) => (c.socket === null ? [] : [c.socket]));
    await this.#controller.stop();
    // The ivshmem servers outlive the bridge, for the guests; nobody needs them now.
    for (const socket of sockets) await stopServer(socket);
    this.#vgpio.remove();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** A square wave of `hz` on chip A's `wave` for `seconds`, then OFF; what the guest and the bridge saw. */
export async function squareWave(rig: SignalsRig, hz: number, seconds: number): Promise<Seen & { errors: number[]; hostErrors: number[] }> {
  await rig.set(CHIP_A, 'wave', 'OFF');
  const periodMs = 1000 / hz;
  const seen = await rig.watch('a', 0, CHIP_A, 'wave', async () => {
    await rig.set(CHIP_A, 'wave', JSON.stringify({ pwm: { period_ms: periodMs, duty: 50 } }));
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    await rig.set(CHIP_A, 'wave', 'OFF');
  });
  // The last edge may be OFF's own, off the pattern: only the rising edges are timed.
  const rising = seen.guest.filter((e) => e.level === 1);
  const hostRising = seen.hostMs.filter((_, i) => seen.bridge[i]?.edge === 'rising');
  return { ...seen, errors: periodErrors(rising.map((e) => e.ns / 1e6), periodMs), hostErrors: periodErrors(hostRising, periodMs) };
}

/**
 * gpioset on chip A's `out` `toggles` times (0, 1, 0, ...); chip B's `in`
 * as its guest saw it, and A's output edges. The latencies are taken on
 * one guest's clock, so only when both chips are in one guest (else none).
 */
export async function wireToggles(rig: SignalsRig, toggles: number): Promise<Seen & { latenciesMs: number[] }> {
  let outEdges: BridgeEdge[] = [];
  const seen = await rig.watch('b', 0, CHIP_B, 'in', async () => {
    const from = rig.mark;
    for (let i = 0; i < toggles; i++) await rig.guests.a.exec(`gpioset ${rig.devices.a} 2=${i % 2 === 0 ? 0 : 1}`);
    await until('every output edge published', () => rig.edges(CHIP_A, 'out', from).length >= toggles - 1, 20_000).catch(() => undefined);
    outEdges = rig.edges(CHIP_A, 'out', from);
  });
  if (rig.guests.a !== rig.guests.b) return { ...seen, latenciesMs: [] };
  // Each input edge against the output edge of the same level just before it, both on the guest's monotonic clock.
  const latenciesMs = seen.guest.flatMap((edge) => {
    const cause = outEdges.filter((o) => o.guest_ns !== undefined && o.guest_ns <= edge.ns && (o.edge === 'rising') === (edge.level === 1)).at(-1);
    return cause?.guest_ns === undefined ? [] : [(edge.ns - cause.guest_ns) / 1e6];
  });
  return { ...seen, latenciesMs };
}

/** What `npm run bench` records of the waveforms and wires. */
export interface SignalsResults {
  /** Period error by frequency: in the guest (edgemon's timestamps) and as the bridge wrote the edges (host clock), ms. */
  waves: { hz: number; edges: number; lost: number; guest: Spread; host: Spread }[];
  /** Guest A output -> guest B input edge, ms (both guest_ns, one guest). */
  wire: Spread & { edges: number; changes: number };
  loadAverage: number;
}

export const WAVE_SECONDS = 5;
export const WIRE_TOGGLES = 40;

export async function signalsBench(log: (line: string) => void): Promise<SignalsResults> {
  log('generated waveforms and wires in a TCG guest');
  const rig = await SignalsRig.start();
  try {
    const waves: SignalsResults['waves'] = [];
    for (const hz of [10, 100]) {
      log(`${hz} Hz square wave, ${WAVE_SECONDS} s`);
      const seen = await squareWave(rig, hz, WAVE_SECONDS);
      waves.push({ hz, edges: seen.bridge.length, lost: seen.bridge.length - seen.guest.length, guest: spread(seen.errors), host: spread(seen.hostErrors) });
    }
    log(`wire, ${WIRE_TOGGLES} gpioset changes`);
    const wire = await wireToggles(rig, WIRE_TOGGLES);
    return { waves, wire: { ...spread(wire.latenciesMs), edges: wire.guest.length, changes: WIRE_TOGGLES }, loadAverage: loadavg()[0] ?? 0 };
  } finally {
    await rig.close();
  }
}

export const SIGNALS_HEADING = '### Generated waveforms and wires (bench/signals.ts)';

/** The results as a RESULTS.md section; bench/figures.ts reads the 100 Hz row's p50 % back. */
export function signalsReport(r: SignalsResults): string {
  const f = (n: number): string => n.toFixed(3);
  const pct = (ms: number, hz: number): string => `${((100 * ms * hz) / 1000).toFixed(2)}%`;
  const rows = r.waves.map((w) => `| ${w.hz} Hz | ${w.edges} | ${w.lost} | ${f(w.guest.p50)} | ${pct(w.guest.p50, w.hz)} | ${f(w.guest.p99)} | ${f(w.host.p50)} | ${f(w.host.p99)} |`);
  return `
${SIGNALS_HEADING}

A square wave (pwm, duty 50%) on an input line for ${WAVE_SECONDS} s, watched in the x86_64 TCG guest by a uAPI v2 program (edgemon, doorbell mode); period error = |rising-to-rising interval − period|, over every period. "as written" is the same on the host, when the bridge wrote each edge into shared memory. Load average at the end: ${r.loadAverage.toFixed(1)}.

| wave | edges published | lost | guest p50 ms | guest p50 % | guest p99 ms | as written p50 ms | as written p99 ms |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Wire, one guest, two vgpio devices: \`gpioset\` on chip A's output → chip B's input edge in edgemon, both on the guest's monotonic clock (guest_ns), ${r.wire.changes} changes, ${r.wire.edges} input edges: p50 ${f(r.wire.p50)} ms, p99 ${f(r.wire.p99)} ms.
`;
}

/** `npm run bench:signals`: this section alone, added to bench/RESULTS.md as a partial run after the latest full run (as bench:e2e is). */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const section = signalsReport(await signalsBench((line) => process.stderr.write(`bench: ${line}\n`)));
  const m = machine();
  const text = [
    `## Partial run of ${m.date}: generated waveforms and wires only (npm run bench:signals)`,
    '',
    `Commit \`${m.commit}\`; ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; Linux ${m.kernel}; Node.js ${m.node}; ${m.qemu}. The run took ${((Date.now() - started) / 1000).toFixed(0)} s; load average at its end ${m.load}.`,
    section,
  ].join('\n');
  writeResults(withPartialRun(readResults(), text));
  process.stdout.write(text);
  process.stderr.write('bench: added to bench/RESULTS.md after the latest full run\n');
}
