/**
 * The host side of a vgpio guest test: a shared-memory file set up by the
 * bridge's protocol layer (bridge/shm), the QEMU options that give it to a
 * guest as an ivshmem device, and the guest files (vgpio.ko built against
 * the guest kernel's own headers, the level-interrupt test module, the
 * libgpiod v1.6 tools).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { IvshmemServer, protocol, SharedMemory, type PeerInfo } from '../native/index.ts';
import { EventRingReader, type RingEvent } from '../bridge/shm/event-ring.ts';
import { InputDriver } from '../bridge/shm/input-driver.ts';
import { LineRegisters } from '../bridge/shm/line-registers.ts';
import { VgpioRegion } from '../bridge/shm/region.ts';
import { archProfile, type GuestArch } from './arch.ts';
import { guestKernel } from './kernel.ts';
import assert from 'node:assert/strict';
import type { Guest, GuestOptions } from './guest.ts';
import { buildModule, buildVgpio, type ModuleBuild } from './build-module.ts';
import { until } from './until.ts';

export const GPIOD_TOOLS = ['/usr/bin/gpiodetect', '/usr/bin/gpioinfo', '/usr/bin/gpioget', '/usr/bin/gpioset', '/usr/bin/gpiomon'];

export interface HostRegionOptions {
  ngpio: number;
  label: string;
  names: string[];
  doorbell: boolean;
  hostPeer: number;
  /** The region's memory when someone else owns it (an IvshmemServer's shm); default: a new temp file. */
  mem?: SharedMemory;
}

/** One region the test host owns, with the bridge's accessors on it. */
export class HostRegion {
  readonly dir = mkdtempSync(join(tmpdir(), 'vgpio-region-'));
  readonly path: string;
  readonly mem: SharedMemory;
  readonly #ownsMem: boolean;
  readonly region: VgpioRegion;
  readonly lines: LineRegisters;
  readonly inputs: InputDriver;
  readonly ring: EventRingReader;
  /** Every ring entry drained so far, in order. */
  readonly events: RingEvent[] = [];
  dropped = 0;

  constructor(options: HostRegionOptions, ringGuest: () => void = () => undefined) {
    this.path = join(this.dir, 'shm');
    this.#ownsMem = options.mem === undefined;
    this.mem = options.mem ?? SharedMemory.open(this.path, { size: VgpioRegion.requiredSize(options.ngpio), create: true });
    this.region = VgpioRegion.initialise(this.mem, options);
    this.lines = new LineRegisters(this.mem, this.region.layout.bankOff, this.region.ngpio);
    this.inputs = new InputDriver(this.lines, { queueLimit: 256, doorbell: ringGuest });
    this.ring = new EventRingReader(this.mem, this.region.layout.ringOff, this.region.layout.ringLen, this.region.ngpio);
  }

  /** Moves queued input changes on and collects ring entries (call on every host wake-up). */
  service(): void {
    this.inputs.acknowledged();
    const drained = this.ring.drain();
    this.events.push(...drained.events);
    this.dropped += drained.dropped;
  }

  /** Ring entries collected since `from` (an index into `events`) for one line. */
  eventsOf(line: number, from = 0): { kind: number; value: number }[] {
    return this.events.slice(from).filter((e) => e.line === line).map((e) => ({ kind: e.kind, value: e.value }));
  }

  /** Every bank's `in` word. */
  inWords(): number[] {
    const words: number[] = [];
    for (let b = 0; b < this.lines.banks; b++) words.push(this.lines.bank(b).in);
    return words;
  }

  close(): void {
    if (this.#ownsMem) this.mem.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The host of a doorbell-mode guest, as the bridge runs it: our
 * IvshmemServer owns the region (set up by bridge/shm with DOORBELL and
 * host_peer = the server's id), input changes ring the guest's vector, and
 * queued changes move on and the ring is drained only when the guest rings
 * the server: nothing polls.
 */
export class DoorbellHost {
  readonly server: IvshmemServer;
  readonly region: HostRegion;
  readonly #dir: string;
  /** The guest's peer, once it has joined. */
  guestPeer: PeerInfo | undefined;
  /** Doorbell rings the host received. */
  rings = 0;
  /** Cleared while a test wants the shared memory exactly as the guest left it. */
  servicing = true;
  /** Resolves when the first peer (the guest's QEMU) joins. */
  readonly joined: Promise<PeerInfo>;

  private constructor(server: IvshmemServer, dir: string, options: Omit<HostRegionOptions, 'doorbell' | 'hostPeer' | 'mem'>) {
    this.server = server;
    this.#dir = dir;
    this.region = new HostRegion({ ...options, doorbell: true, hostPeer: server.id, mem: server.shm }, () => {
      if (this.guestPeer !== undefined) server.ring(this.guestPeer.id, protocol.VECTOR_GUEST);
    });
    this.joined = (once(server, 'join') as Promise<[PeerInfo]>).then(([peer]) => (this.guestPeer = peer));
    server.on('ring', () => {
      this.rings += 1;
      if (this.servicing) this.region.service();
    });
  }

  static async listen(options: Omit<HostRegionOptions, 'doorbell' | 'hostPeer' | 'mem'>): Promise<DoorbellHost> {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-doorbell-'));
    const server = await IvshmemServer.listen({
      socketPath: join(dir, 'ivshmem.sock'),
      shmPath: join(dir, 'shm'),
      shmSize: VgpioRegion.requiredSize(options.ngpio),
      vectors: DOORBELL_VECTORS,
    });
    return new DoorbellHost(server, dir, options);
  }

  /** QEMU options for the guest's ivshmem-doorbell device on this server. */
  get qemuArgs(): string[] {
    return doorbellDeviceArgs('ivsh', this.server.socketPath, DOORBELL_VECTORS);
  }

  /** Rings the guest's vector (without touching any register). */
  ringGuest(): void {
    if (this.guestPeer !== undefined) this.server.ring(this.guestPeer.id, protocol.VECTOR_GUEST);
  }

  async close(): Promise<void> {
    await this.server.close();
    this.region.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** The driver takes one MSI-X vector; server and device offer exactly that. */
export const DOORBELL_VECTORS = protocol.VECTORS_MIN;

/** QEMU options for an ivshmem-doorbell device on an ivshmem server's socket. */
export function doorbellDeviceArgs(id: string, socketPath: string, vectors: number): string[] {
  return ['-chardev', `socket,path=${socketPath},id=${id}`, '-device', `ivshmem-doorbell,chardev=${id},vectors=${vectors}`];
}

/** The gpiochip device name (gpiochipN) of the chip labelled `label`. */
export async function chipByLabel(guest: Guest, label: string): Promise<string> {
  return (await guest.exec('gpiodetect')).split('\n').find((l) => l.includes(`[${label}]`))?.split(' ')[0] ?? '';
}

/**
 * The sysfs GPIO number base of the chip labelled `label`. By label, never
 * by position: arm64's virt board has a gpiochip of its own (a PL061).
 */
export async function chipBase(guest: Guest, label: string): Promise<number> {
  const out = await guest.exec(`for c in /sys/class/gpio/gpiochip*; do [ "$(cat $c/label)" = '${label}' ] && cat $c/base; done; true`);
  const base = out.trim();
  if (!/^\d+$/.test(base)) throw new Error(`no single gpiochip labelled ${label} in /sys/class/gpio: ${JSON.stringify(out)}`);
  return Number(base);
}

/** QEMU options for an ivshmem-plain device over a host file. */
export function plainDeviceArgs(id: string, path: string, size: number): string[] {
  return [
    '-object', `memory-backend-file,id=${id},size=${size},mem-path=${path},share=on`,
    '-device', `ivshmem-plain,memdev=${id}`,
  ];
}

/** The guest's modules, built against its own kernel's headers, and the test programs. */
export interface GuestModules {
  vgpio: ModuleBuild;
  levelirq: ModuleBuild;
  files: NonNullable<GuestOptions['files']>;
  remove: () => void;
}

/**
 * A static test program from testkit/programs/<name>/<name>.c, built into `dir`
 * for `arch`: with musl on the host's x86_64, with the cross toolchain's
 * static glibc for aarch64.
 */
export function buildTestProgram(name: string, dir: string, arch: GuestArch = 'x86_64'): string {
  return buildGuestProgram(join(import.meta.dirname, 'programs', name, `${name}.c`), join(dir, name), arch);
}

/** A static guest program from one C file that uses the GPIO uAPI (the test programs here, test/client's blink). */
export function buildGuestProgram(source: string, out: string, arch: GuestArch = 'x86_64'): string {
  const { crossCompile } = archProfile(arch);
  const flags = ['-static', '-O2', '-Wall', '-Wextra', '-Werror', '-o', out, source];
  // musl has no kernel uAPI headers of its own: take linux/gpio.h from the system's.
  // A cross toolchain brings its own.
  const [cc, args] = crossCompile === ''
    ? ['musl-gcc', ['-idirafter', '/usr/include', '-idirafter', '/usr/include/x86_64-linux-gnu', ...flags]]
    : [`${crossCompile}gcc`, flags];
  const build = spawnSync(cc, args, { encoding: 'utf8' });
  if (build.error !== undefined) throw new Error(`${cc}: ${build.error.message} (run scripts/setup.sh)`);
  if (build.status !== 0) throw new Error(`building ${source} failed:\n${build.stdout}${build.stderr}`);
  return out;
}

/** testkit/programs/edgemon, a uAPI v2 edge monitor with a large kernel event buffer (see its header). */
export function buildEdgemon(dir: string, arch: GuestArch = 'x86_64'): string {
  return buildTestProgram('edgemon', dir, arch);
}

/** vgpio.ko, the level-irq module, edgemon and setlines for the guest kernel `kernelVersion` of `arch`. */
export function buildGuestModules(kernelVersion?: string, arch: GuestArch = 'x86_64'): GuestModules {
  const kernel = guestKernel(kernelVersion, arch);
  const vgpio = buildVgpio(kernel.headersDir, arch);
  const levelirq = buildModule(join(import.meta.dirname, 'programs', 'levelirq'), 'vgpio_levelirq', kernel.headersDir, arch);
  const programs = mkdtempSync(join(tmpdir(), 'vgpio-programs-'));
  return {
    vgpio,
    levelirq,
    files: [
      { dest: '/vgpio.ko', src: vgpio.ko, mode: 0o644 },
      { dest: '/vgpio_levelirq.ko', src: levelirq.ko, mode: 0o644 },
      { dest: '/usr/bin/edgemon', src: buildEdgemon(programs, arch), mode: 0o755 },
      { dest: '/usr/bin/setlines', src: buildTestProgram('setlines', programs, arch), mode: 0o755 },
    ],
    remove: () => {
      vgpio.remove();
      levelirq.remove();
      rmSync(programs, { recursive: true, force: true });
    },
  };
}

// Shared with the tests that import it from here.
export { until };

export const EV = {
  OUTPUT: protocol.EV_OUTPUT,
  DIRECTION: protocol.EV_DIRECTION,
  IRQ_CONFIG: protocol.EV_IRQ_CONFIG,
  INPUT_EDGE: protocol.EV_INPUT_EDGE,
} as const;

/** Lines the guest reports as fatal or as kernel warnings. */
export function kernelTrouble(consoleText: string): string[] {
  return consoleText.split('\n').filter((l) => /\bBUG\b|Oops|WARNING:|Call Trace|general protection/.test(l));
}

/** Drops the interactive shell's reports of finished jobs ("[1]+  Done ..."): not a command's output. */
export function withoutJobReports(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^\[\d+\][+-]?\s/.test(l))
    .join('\n');
}

/**
 * Starts `command` in the guest's background, waits until the host sees
 * `ready` and the command's program waits for input (see
 * Guest.untilWaitingForInput: only then is a monitor's line request
 * complete), and resolves with the command's output once it has exited.
 * The job runs in a subshell that exits at once, so it is not a child of
 * the shell reading the console: its exit never interrupts that shell in
 * the middle of reading a command line (seen twice in doorbell mode, where
 * a monitor exits within milliseconds: the next command line arrived
 * mangled, "sh: eval: line 0: _: not found", and never ran).
 */
export async function background(guest: Guest, command: string, ready: () => boolean): Promise<{ output: Promise<string> }> {
  await guest.exec(`rm -f /tmp/bg.done; ( (${command} > /tmp/bg.out 2>&1; echo $? > /tmp/bg.done) & )`);
  await until(`the guest to start ${command}`, ready);
  await guest.untilWaitingForInput(command.split(' ')[0] ?? command);
  const output = until(`${command} to exit`, async () => (await guest.run('cat /tmp/bg.done')).code === 0, 60_000)
    .then(() => guest.exec('cat /tmp/bg.out'))
    .then(withoutJobReports);
  return { output };
}

/** PCI address of the guest's 1af4:1110 device whose BAR2 has `size` bytes. */
export async function bdfWithBar2(guest: Guest, size: number): Promise<string> {
  const out = await guest.exec(
    'for d in /sys/bus/pci/devices/*; do [ "$(cat $d/device)" = 0x1110 ] && echo "$(basename $d) $(sed -n 3p $d/resource)"; done',
  );
  for (const line of out.trim().split('\n')) {
    const [bdf, start, end] = line.split(' ');
    if (bdf !== undefined && start !== undefined && end !== undefined && BigInt(end) - BigInt(start) + 1n === BigInt(size)) return bdf;
  }
  throw new Error(`no ivshmem device with a ${size}-byte BAR2 in:\n${out}`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A level-`trigger` interrupt on `line` (GPIO number `gpio`) requested by
 * the level-irq test module: no fire while idle, a fire on the active
 * level, a re-fire on every re-arm while it holds, none once it is gone,
 * and a fire on the next active level.
 */
export async function checkLevelRefire(guest: Guest, host: HostRegion, line: number, gpio: number, trigger: 'high' | 'low'): Promise<void> {
  const active = trigger === 'high' ? 1 : 0;
  const idle = trigger === 'high' ? 0 : 1;
  const fired = async (): Promise<number> => Number((await guest.exec('cat /sys/module/vgpio_levelirq/parameters/fired')).trim());
  const rearm = (): Promise<string> => guest.exec('echo 1 > /sys/module/vgpio_levelirq/parameters/rearm');
  host.inputs.set(line, idle);
  await guest.exec(`insmod /vgpio_levelirq.ko gpio=${gpio} trigger=${trigger}`);
  assert.equal(host.lines.state(line).irq[trigger], true);
  await sleep(100);
  assert.equal(await fired(), 0, 'no interrupt while the level is idle');

  host.inputs.set(line, active);
  await until('first fire', async () => (await fired()) === 1);
  await rearm();
  await until('re-fire while the level holds', async () => (await fired()) === 2);
  await rearm();
  await until('and again', async () => (await fired()) === 3);

  host.inputs.set(line, idle);
  await sleep(50);
  await rearm();
  await sleep(200);
  assert.equal(await fired(), 3, 'no fire once the level is gone');

  host.inputs.set(line, active);
  await until('fire on the next active level', async () => (await fired()) === 4);
  await guest.exec('rmmod vgpio_levelirq');
  assert.equal(host.lines.state(line).irq.enabled, false);
  host.inputs.set(line, idle);
}

/**
 * gpioset 1, 0, 1 on `line` while the host drives 1 onto its `in`: the host
 * finds exactly those output changes (and the switch to output) in the
 * ring, and the guest never touched `in`.
 */
export async function checkGpiosetOutputs(guest: Guest, host: HostRegion, chip: string, line: number): Promise<void> {
  host.inputs.set(line, 1);
  const inBefore = host.inWords();
  const from = host.events.length;
  for (const level of [1, 0, 1]) await guest.exec(`gpioset ${chip} ${line}=${level}`);
  await until('three output events', () => host.eventsOf(line, from).filter((e) => e.kind === EV.OUTPUT).length >= 3);
  assert.deepEqual(host.eventsOf(line, from), [
    { kind: EV.OUTPUT, value: 1 },
    { kind: EV.DIRECTION, value: 1 },
    { kind: EV.OUTPUT, value: 0 },
    { kind: EV.OUTPUT, value: 1 },
  ]);
  const state = host.lines.state(line);
  assert.equal(state.isOutput, true);
  assert.equal(state.output, 1);
  assert.deepEqual(host.inWords(), inBefore, 'the guest never touches in');
}

/** Garbage from the host: makes every line of the bank at `bankBase` pending (irq_raise = ~irq_ack). */
export function raiseEveryLine(mem: SharedMemory, bankBase: number): void {
  mem.store32(bankBase + protocol.BANK_IRQ_RAISE, ~mem.load32(bankBase + protocol.BANK_IRQ_ACK) >>> 0);
}

/**
 * After the host made every line of banks 0 and 1 pending of banks 0 and 1 (40 lines, so
 * bank 1 has bits past ngpio): the guest warns, at a limited rate, and
 * acknowledges them.
 */
export async function checkPendGarbageCleared(guest: Guest, host: HostRegion): Promise<void> {
  // A warning-level message: below the console's loglevel, so read from dmesg.
  await until('the garbage warning', async () => (await guest.exec('dmesg')).includes('bank 1: ignoring raised interrupts 0xffffffff of lines without an armed interrupt'));
  await sleep(300);
  // Rate-limited: a flood of garbage is not a flood of messages.
  const warnings = (await guest.exec('dmesg')).split('\n').filter((l) => l.includes('ignoring raised interrupts')).length;
  assert.ok(warnings <= 10, `${warnings} warnings`);
  assert.equal(host.lines.bank(0).irqPend, 0, 'garbage interrupts are acknowledged');
  assert.equal(host.lines.bank(1).irqPend, 0);
}
