/**
 * The host side of a vgpio guest test: a shared-memory file set up by the
 * bridge's protocol layer (bridge/shm), the QEMU options that give it to a
 * guest as an ivshmem device, and the guest files (vgpio.ko built against
 * the guest kernel's own headers, the level-interrupt test module, the
 * libgpiod v1.6 tools).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { protocol, SharedMemory } from '../../native/index.ts';
import { EventRingReader, type RingEvent } from '../../bridge/shm/event-ring.ts';
import { InputDriver } from '../../bridge/shm/input-driver.ts';
import { LineRegisters } from '../../bridge/shm/line-registers.ts';
import { VgpioRegion } from '../../bridge/shm/region.ts';
import { guestKernel } from '../support/kernel.ts';
import type { GuestOptions } from '../support/guest.ts';
import { buildModule, buildVgpio, type ModuleBuild } from './build-module.ts';

export const GPIOD_TOOLS = ['/usr/bin/gpiodetect', '/usr/bin/gpioinfo', '/usr/bin/gpioget', '/usr/bin/gpioset', '/usr/bin/gpiomon'];

export interface HostRegionOptions {
  ngpio: number;
  label: string;
  names: string[];
  doorbell: boolean;
  hostPeer: number;
}

/** One region the test host owns, with the bridge's accessors on it. */
export class HostRegion {
  readonly dir = mkdtempSync(join(tmpdir(), 'vgpio-region-'));
  readonly path: string;
  readonly mem: SharedMemory;
  readonly region: VgpioRegion;
  readonly lines: LineRegisters;
  readonly inputs: InputDriver;
  readonly ring: EventRingReader;
  /** Every ring entry drained so far, in order. */
  readonly events: RingEvent[] = [];
  dropped = 0;

  constructor(options: HostRegionOptions, ringGuest: () => void = () => undefined) {
    this.path = join(this.dir, 'shm');
    this.mem = SharedMemory.open(this.path, { size: VgpioRegion.requiredSize(options.ngpio), create: true });
    this.region = VgpioRegion.initialise(this.mem, options);
    this.lines = new LineRegisters(this.mem, this.region.layout.bankOff, this.region.ngpio);
    this.inputs = new InputDriver(this.lines, { queueLimit: 256, ringGuest });
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
    this.mem.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** QEMU options for an ivshmem-plain device over a host file. */
export function plainDeviceArgs(id: string, path: string, size: number): string[] {
  return [
    '-object', `memory-backend-file,id=${id},size=${size},mem-path=${path},share=on`,
    '-device', `ivshmem-plain,memdev=${id}`,
  ];
}

/** The guest's modules, built against its own kernel's headers. */
export interface GuestModules {
  vgpio: ModuleBuild;
  levelirq: ModuleBuild;
  files: NonNullable<GuestOptions['files']>;
  remove: () => void;
}

export function buildGuestModules(kernelVersion?: string): GuestModules {
  const kernel = guestKernel(kernelVersion);
  const vgpio = buildVgpio(kernel.headersDir);
  const levelirq = buildModule(join(import.meta.dirname, 'levelirq'), 'vgpio_levelirq', kernel.headersDir);
  return {
    vgpio,
    levelirq,
    files: [
      { dest: '/vgpio.ko', src: vgpio.ko, mode: 0o644 },
      { dest: '/vgpio_levelirq.ko', src: levelirq.ko, mode: 0o644 },
    ],
    remove: () => {
      vgpio.remove();
      levelirq.remove();
    },
  };
}

/** Polls `check` until it returns true (or a value), failing after `timeoutMs` with `what`. */
export async function until<T>(what: string, check: () => T | false | Promise<T | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result !== false) return result;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

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
