/**
 * Many lines of one chip moving at once, through the real bridge into a
 * real TCG guest: the bridge runs as its own process (the CLI, as users run
 * it) with one 64-line chip (two banks) in doorbell mode, the guest runs
 * vgpio.ko, and edgemon (uAPI v2) requests the lines together with both
 * edges. Commands go in as MQTT `.../set` messages; the truth the guest is
 * held to is the bridge's own `edge` messages with `"source":"host"` (one
 * per change it wrote to shared memory), line by line and in order.
 *
 * The guest also has a small ivshmem-plain device for atomadd (see
 * testkit/programs/atomadd), which shows whether the guest's atomics are atomic
 * with respect to the host's.
 *
 * Shared by test/kernel/many-lines.test.ts and the bench's stress mode.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../bridge/settings/load.ts';
import { qemuArgs } from '../bridge/guest-setup/qemu-args.ts';
import { SharedMemory } from '../native/index.ts';
import { BridgeProcess } from '../bench/bridge-process.ts';
import { archProfile, type GuestArch } from './arch.ts';
import { Guest } from './guest.ts';
import { guestKernel } from './kernel.ts';
import type { QemuVersion } from './qemu-builds.ts';
// Raw MQTT (MqttProbe), not the typed client: commands go in as raw `.../set` messages and every edge message is counted.
import { MqttProbe } from './mqtt-probe.ts';
import { freePort } from './ports.ts';
import { buildVgpio, type ModuleBuild } from './build-module.ts';
import { buildEdgemon, chipByLabel, GPIOD_TOOLS, plainDeviceArgs, until } from './vgpio-host.ts';

const BASE = 'many';
const CHIP = 'multi';
export const NGPIO = 64;
/**
 * The guests held to it: x86_64 with one vCPU (QEMU's default) and with
 * two, and a weakly ordered arm64 guest (`-cpu max`, two vCPUs run in
 * parallel by TCG, so a missing barrier in the driver shows up as a lost or
 * stale edge), all on QEMU 7.2; and x86_64 with two vCPUs on QEMU 10.0, the
 * case where a newer TCG's parallel vCPUs could order or tear shared memory
 * differently (one more boot, not a second copy of the matrix).
 */
export const GUESTS: readonly { arch: GuestArch; cpus: number; qemu: QemuVersion }[] = [
  { arch: 'x86_64', cpus: 1, qemu: '7.2' },
  { arch: 'x86_64', cpus: 2, qemu: '7.2' },
  { arch: 'aarch64', cpus: 2, qemu: '7.2' },
  { arch: 'x86_64', cpus: 2, qemu: '10.0' },
];
/** ivshmem-plain's smallest sensible size; atomadd uses three words of it. */
const ATOM_SIZE = 1 << 20;

type Level = 0 | 1;

export type CommandStyle = 'on-off' | 'toggle';

export interface StreamOptions {
  lines: number[];
  changesPerLine: number;
  style: CommandStyle;
  /** A host process spinning beside the guest for the whole stream. */
  busy: boolean;
}

const EIGHT = [0, 1, 2, 3, 4, 5, 6, 7];
/** 32 lines, 16 in each bank. */
const THIRTY_TWO = Array.from({ length: 32 }, (_, i) => 16 + i);

/** The streams the test runs once per boot and the bench's stress mode repeats. */
export const STREAMS: readonly (readonly [string, StreamOptions])[] = [
  ['8 lines, explicit ON/OFF', { lines: EIGHT, changesPerLine: 300, style: 'on-off', busy: true }],
  ['8 lines, TOGGLE', { lines: EIGHT, changesPerLine: 300, style: 'toggle', busy: true }],
  ['32 lines in two banks, explicit ON/OFF', { lines: THIRTY_TWO, changesPerLine: 60, style: 'on-off', busy: true }],
];

/** One line's account of a stream. */
export interface LineAccount {
  line: number;
  /** Levels of the bridge's host edges (the changes it wrote), in order. */
  host: Level[];
  /** Levels of the events the guest's program read, in order. */
  guest: Level[];
}

export interface StreamResult {
  options: StreamOptions;
  accounts: LineAccount[];
  /** Commands the bridge refused (bridge/event command_rejected). */
  refused: number;
  changes: number;
  /** Changes the guest never reported, over all lines. */
  lost: number;
  /** Guest events no change explains, over all lines. */
  invented: number;
  /** Lines whose guest events are not exactly the host's changes, described. */
  mismatches: string[];
}

/** Spins a CPU of the host until stopped: the load a busy machine puts beside the guest. */
function busyLoop(): () => void {
  const child = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
  return () => {
    child.kill('SIGKILL');
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Lost and invented edges of one line: the longest common subsequence of
 * the host's changes and the guest's events says which events match a
 * change; the rest of the changes are lost, the rest of the events invented.
 */
export function compareLine(host: readonly Level[], guest: readonly Level[]): { lost: number; invented: number } {
  let previous = new Array<number>(guest.length + 1).fill(0);
  for (const h of host) {
    const row = [0];
    for (let j = 1; j <= guest.length; j++) {
      row[j] = h === guest[j - 1] ? (previous[j - 1] ?? 0) + 1 : Math.max(previous[j] ?? 0, row[j - 1] ?? 0);
    }
    previous = row;
  }
  const common = previous[guest.length] ?? 0;
  return { lost: host.length - common, invented: guest.length - common };
}

export class ManyLinesRig {
  readonly cpus: number;
  readonly guest: Guest;
  readonly bridge: BridgeProcess;
  readonly probe: MqttProbe;
  /** The gpiochip the guest shows for the bridge's chip. */
  readonly chip: string;
  /** The host's file of the atomadd device. */
  readonly atomPath: string;
  readonly #cleanup: (() => Promise<void> | void)[];
  readonly #hostAtomadd: string;
  /** Each line's level as the bridge last reported it. */
  readonly #level = new Map<number, Level>();

  private constructor(init: { cpus: number; guest: Guest; bridge: BridgeProcess; probe: MqttProbe; chip: string; atomPath: string; hostAtomadd: string; cleanup: (() => Promise<void> | void)[] }) {
    this.cpus = init.cpus;
    this.guest = init.guest;
    this.bridge = init.bridge;
    this.probe = init.probe;
    this.chip = init.chip;
    this.atomPath = init.atomPath;
    this.#hostAtomadd = init.hostAtomadd;
    this.#cleanup = init.cleanup;
  }

  /** Starts the bridge, boots a guest of `arch` with `cpus` vCPUs on `qemu` on it and binds vgpio.ko. */
  static async start(cpus: number, arch: GuestArch = 'x86_64', kernelVersion?: string, qemu?: QemuVersion): Promise<ManyLinesRig> {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-many-lines-'));
    const cleanup: (() => Promise<void> | void)[] = [() => { rmSync(dir, { recursive: true, force: true }); }];
    try {
      const kernel = guestKernel(kernelVersion, arch);
      const vgpio: ModuleBuild = buildVgpio(kernel.headersDir, arch);
      cleanup.push(vgpio.remove);
      const atomSource = join(import.meta.dirname, 'programs', 'atomadd', 'atomadd.c');
      const hostAtomadd = join(dir, 'atomadd-host');
      const guestAtomadd = join(dir, 'atomadd-guest');
      compile('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', hostAtomadd, atomSource]);
      // Static: musl on the host's x86_64, the cross toolchain's glibc for aarch64 (as edgemon).
      const { crossCompile } = archProfile(arch);
      compile(crossCompile === '' ? 'musl-gcc' : `${crossCompile}gcc`, ['-static', '-O2', '-Wall', '-Wextra', '-Werror', '-o', guestAtomadd, atomSource]);

      const { bridge, url } = await startBridge(dir);
      cleanup.push(() => bridge.stop());
      const chipConfig = loadSettings({ args: ['-c', join(dir, 'bridge.yaml')], env: {} }).chips[0];
      if (chipConfig === undefined) throw new Error('no chip in the generated configuration');

      const atomPath = join(dir, 'atom.shm');
      SharedMemory.open(atomPath, { size: ATOM_SIZE, create: true }).close();
      const guest = await Guest.boot({
        arch,
        qemu,
        cpus,
        binaries: GPIOD_TOOLS,
        files: [
          { dest: '/vgpio.ko', src: vgpio.ko, mode: 0o644 },
          { dest: '/usr/bin/edgemon', src: buildEdgemon(dir, arch), mode: 0o755 },
          { dest: '/usr/bin/atomadd', src: guestAtomadd, mode: 0o755 },
        ],
        qemuArgs: [...qemuArgs(chipConfig), ...plainDeviceArgs('atom', atomPath, ATOM_SIZE)],
      });
      cleanup.push(() => guest.close());
      const online = guest.exec('nproc');
      if ((await online).trim() !== String(cpus)) throw new Error(`the guest has ${(await online).trim()} CPUs, not ${cpus}`);
      const probe = await MqttProbe.connect(url, [`${BASE}/${CHIP}/+/edge`, `${BASE}/${CHIP}/availability`, `${BASE}/bridge/event`]);
      cleanup.push(() => probe.close());
      await guest.exec('insmod /vgpio.ko');
      await probe.waitFor(`${BASE}/${CHIP}/availability`, (p) => p === 'online', 30_000);
      const gpiochip = await chipByLabel(guest, CHIP);
      if (gpiochip === '') throw new Error(`no gpiochip labelled ${CHIP}:\n${await guest.exec('gpiodetect; dmesg | tail')}`);
      return new ManyLinesRig({ cpus, guest, bridge, probe, chip: gpiochip, atomPath, hostAtomadd, cleanup });
    } catch (error) {
      for (const step of cleanup.reverse()) await step();
      throw error;
    }
  }

  /**
   * atomadd: the guest adds `count` times while the host adds for as long
   * as the guest does, both with atomic fetch-add on one word of the
   * ivshmem-plain device. Returns what each side added and where the word ended.
   */
  async atomicAdds(count: number): Promise<{ guest: number; host: number; total: number }> {
    const mem = SharedMemory.open(this.atomPath, { size: ATOM_SIZE });
    try {
      for (const off of [0, 4, 8]) mem.store32(off, 0);
      const bar = (await this.guest.exec(`for d in /sys/bus/pci/devices/*; do [ "$(cat $d/device)" = 0x1110 ] && [ "$(($(stat -c %s $d/resource2)))" = ${ATOM_SIZE} ] && echo $d/resource2; done`)).trim();
      if (bar === '') throw new Error('the guest has no atomadd device');
      const host = spawn(this.#hostAtomadd, ['host', this.atomPath], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      host.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => host.once('exit', resolve));
      try {
        await this.guest.exec(`atomadd guest ${bar} ${count}`, 300_000);
      } finally {
        // Ends the host's loop even if the guest's failed.
        mem.store32(8, 1);
      }
      const code = await exited;
      if (code !== 0) throw new Error(`atomadd host exited with ${String(code)}`);
      return { guest: count, host: Number(output.trim()), total: mem.load32(0) };
    } finally {
      mem.close();
    }
  }

  /**
   * Drives `lines` together through the bridge: each line gets
   * `changesPerLine` commands, one every 2-6 ms (explicit ON/OFF that
   * always change the level, or TOGGLE), while edgemon in the guest
   * watches them all. Waits until the guest has reported as many events as
   * the bridge made changes, and a while longer for events nobody made.
   */
  async stream(options: StreamOptions): Promise<StreamResult> {
    const { lines, changesPerLine, style } = options;
    const mark = this.probe.mark;
    await this.guest.exec(`rm -f /tmp/edges; ( edgemon /dev/${this.chip} ${lines.join(',')} 1000000000 > /tmp/edges 2>&1 & )`);
    // Every line's interrupt is enabled inside the request, and edgemon then waits on the request's fd.
    await this.guest.untilWaitingForInput('edgemon');
    const stopBusy = options.busy ? busyLoop() : () => undefined;
    try {
      await Promise.all(lines.map(async (line) => {
        let level = this.#level.get(line) ?? 0;
        for (let i = 0; i < changesPerLine; i++) {
          level = level === 1 ? 0 : 1;
          const payload = style === 'toggle' ? 'TOGGLE' : level === 1 ? 'ON' : 'OFF';
          await this.probe.publish(`${BASE}/${CHIP}/${line}/set`, payload);
          await sleep(2 + Math.random() * 4);
        }
      }));
    } finally {
      stopBusy();
    }
    const hostEdges = (): Map<number, Level[]> => {
      const byLine = new Map<number, Level[]>(lines.map((l) => [l, []]));
      for (const m of this.probe.on(`${BASE}/${CHIP}/+/edge`, mark)) {
        const edge = JSON.parse(m.payload) as { edge: string; source: string };
        const line = Number(m.topic.split('/')[2]);
        if (edge.source === 'host') byLine.get(line)?.push(edge.edge === 'rising' ? 1 : 0);
      }
      return byLine;
    };
    const guestCount = async (): Promise<number> => Number((await this.guest.exec('wc -l < /tmp/edges')).trim());
    const changes = (): number => [...hostEdges().values()].reduce((n, l) => n + l.length, 0);
    // The bridge's queues drain as fast as the guest acknowledges: done when
    // neither side has moved for two seconds (a lost edge never arrives).
    let previous = '';
    await until('both sides to settle', async () => {
      const now = `${changes()} changes, ${await guestCount()} events`;
      const settledNow = now === previous;
      previous = now;
      if (!settledNow) await sleep(2000);
      return settledNow;
    }, 300_000);
    const text = await this.guest.exec('cat /tmp/edges');
    await this.guest.run('kill $(pidof edgemon)');
    const guestEvents = new Map<number, Level[]>(lines.map((l) => [l, []]));
    for (const row of text.trim().split('\n')) {
      const [offset, , level] = row.split(' ');
      if (level === undefined) continue;
      guestEvents.get(Number(offset))?.push(level === '1' ? 1 : 0);
    }
    const host = hostEdges();
    const accounts = lines.map((line) => ({ line, host: host.get(line) ?? [], guest: guestEvents.get(line) ?? [] }));
    let lost = 0;
    let invented = 0;
    const mismatches: string[] = [];
    for (const a of accounts) {
      const last = a.host.at(-1);
      if (last !== undefined) this.#level.set(a.line, last);
      const diff = compareLine(a.host, a.guest);
      lost += diff.lost;
      invented += diff.invented;
      if (diff.lost > 0 || diff.invented > 0 || a.host.join('') !== a.guest.join('')) {
        mismatches.push(`line ${a.line}: ${a.host.length} changes, ${a.guest.length} events, ${diff.lost} lost, ${diff.invented} invented; ` +
          `changes ${a.host.slice(0, 12).join('')}..., events ${a.guest.slice(0, 12).join('')}...`);
      }
    }
    const refused = this.probe.on(`${BASE}/bridge/event`, mark).filter((m) => m.payload.includes('command_rejected')).length;
    return { options, accounts, refused, changes: changes(), lost, invented, mismatches };
  }

  async close(): Promise<void> {
    for (const step of this.#cleanup.reverse()) await step();
  }
}

/**
 * The bridge with one 64-line doorbell chip, from its TypeScript sources.
 * A second try with new ports when the first does not come up: on a loaded
 * machine a port freePort() found free can be taken before the bridge binds
 * it, or tsx compiling the bridge can outlast BridgeProcess's 30 s wait.
 */
async function startBridge(dir: string): Promise<{ bridge: BridgeProcess; url: string }> {
  const failures: string[] = [];
  for (let attempt = 1; attempt <= 2; attempt++) {
    const port = await freePort();
    const chip = `{ name: ${CHIP}, ngpio: ${NGPIO}, socket: ${dir}/bridge-${attempt}.sock, shm: ${dir}/bridge-${attempt}.shm, queue_limit: 1024 }`;
    const config = `base_topic: ${BASE}\nlog_level: warn\nbroker: { port: ${port} }\nmetrics: { port: ${await freePort()} }\nweb: { enabled: false }\nhomeassistant: { enabled: false }\nchips:\n  - ${chip}\n`;
    const url = `mqtt://127.0.0.1:${port}`;
    try {
      return { bridge: await BridgeProcess.start({ config, dir, url, baseTopic: BASE, build: 'source' }), url };
    } catch (error) {
      failures.push(`attempt ${attempt}: ${(error as Error).message}`);
    }
  }
  throw new Error(`the bridge did not start:\n${failures.join('\n')}`);
}

function compile(cc: string, args: string[]): void {
  const result = spawnSync(cc, args, { encoding: 'utf8' });
  if (result.error !== undefined) throw new Error(`${cc}: ${result.error.message} (run scripts/setup.sh)`);
  if (result.status !== 0) throw new Error(`${cc} failed:\n${result.stdout}${result.stderr}`);
}
