/**
 * Wires (`wires:` in the configuration, resolved by config/wires.ts): each
 * carries a guest output line's changes to input lines of the same or
 * other chips, inside the bridge. It follows the output through its chip's
 * events (a guest edge, read from the event ring when the doorbell rings,
 * and the line's direction) and sets each input through Chip.command, the
 * path an MQTT command takes, so the input's edge is published, counted
 * and captured like any other; no MQTT round trip is involved. An input
 * several wires drive is one net (signals/net.ts): low wins, both ways is
 * contention (the `contention` event, counted by metrics/collect.ts and
 * reported on bridge/event by the controller).
 */
import { EventEmitter } from 'node:events';
import type { Chip, ChipEvents } from '../chip/chip.ts';
import type { WireConfig, WireEnd } from '../settings/types.ts';
import type { Logger } from '../log.ts';
import type { Level } from '../shm/line-registers.ts';
import { Net, type Drive } from './net.ts';

export interface WireEvents {
  /** The input `net` (`<chip>/<line>`) became driven both ways; `drivers` are the outputs driving it, `<chip>/<line>=<level>`. */
  contention: [net: string, drivers: string[]];
  /** An input could not be set; already logged. */
  problem: [message: string];
}

const endName = (end: WireEnd): string => `${end.chip}/${end.name}`;

/** An input line and the net of wires that drive it. */
interface Target {
  end: WireEnd;
  net: Net;
  /** The wires driving it, by their index in the net. */
  wires: WireConfig[];
  /** The driven level of each wire (after `inverted`), for the contention report. */
  drives: Drive[];
  /** The level the net asks of the input (undefined until resolved once). */
  wanted: Level | undefined;
  contention: boolean;
}

export class Wires extends EventEmitter<WireEvents> {
  readonly #wires: readonly WireConfig[];
  readonly #chips: ReadonlyMap<string, Chip>;
  readonly #log: Logger;
  readonly #targets = new Map<string, Target>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #unfollow: (() => void)[] = [];

  constructor(wires: readonly WireConfig[], chips: ReadonlyMap<string, Chip>, log: Logger) {
    super();
    this.#wires = wires;
    this.#chips = chips;
    this.#log = log;
    for (const wire of wires) {
      for (const end of wire.to) {
        const key = endName(end);
        const target = this.#targets.get(key) ?? { end, net: new Net(0), wires: [], drives: [], wanted: undefined, contention: false };
        target.wires.push(wire);
        target.drives.push(undefined);
        this.#targets.set(key, target);
      }
    }
    for (const target of this.#targets.values()) target.net = new Net(target.wires.length);
  }

  /** Follows every wire's output and every input's chip; call before the chips start, so their first events are seen. */
  start(): void {
    for (const wire of this.#wires) {
      const chip = this.#chips.get(wire.from.chip);
      if (chip === undefined) continue;
      const line = wire.from.line;
      this.#listen(chip, 'edge', (edge) => {
        if (edge.source === 'guest' && edge.line.line === line) this.#driven(wire, edge.edge === 'rising' ? 1 : 0);
      });
      this.#listen(chip, 'config', (view) => {
        // An output the guest stops driving is released: the pull-up (or another driver) decides.
        if (view.line === line) this.#driven(wire, view.direction === 'output' ? this.#level(chip, line) : undefined);
      });
    }
    for (const target of this.#targets.values()) {
      const chip = this.#chips.get(target.end.chip);
      if (chip === undefined) continue;
      // A guest that (re)binds its driver gets the net's level, which a chip without a guest refused.
      this.#listen(chip, 'availability', (online) => {
        if (online) this.#set(target);
      });
    }
  }

  stop(): void {
    for (const off of this.#unfollow.splice(0)) off();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    // What the controller listens to goes too: nothing registered outlives stop().
    this.removeAllListeners();
  }

  #listen<E extends keyof ChipEvents>(chip: Chip, event: E, listener: (...args: ChipEvents[E]) => void): void {
    // TypeScript cannot narrow EventEmitter's conditional listener type for a generic event name.
    chip.on(event, listener as never);
    this.#unfollow.push(() => chip.off(event, listener as never));
  }

  #level(chip: Chip, line: number): Level | undefined {
    const config = chip.config.lines[line];
    return config === undefined || chip.failure !== undefined ? undefined : chip.status(config).level;
  }

  /** The wire's output now drives `level` (undefined: released); after `delay_ms`, the inputs follow. */
  #driven(wire: WireConfig, level: Drive): void {
    const drive: Drive = level === undefined || !wire.inverted ? level : level === 1 ? 0 : 1;
    if (wire.delayMs === 0) {
      this.#apply(wire, drive);
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#apply(wire, drive);
    }, wire.delayMs);
    this.#timers.add(timer);
  }

  #apply(wire: WireConfig, drive: Drive): void {
    for (const end of wire.to) {
      const target = this.#targets.get(endName(end));
      if (target === undefined) continue;
      const index = target.wires.indexOf(wire);
      target.drives[index] = drive;
      const { level, contention } = target.net.drive(index, drive);
      if (contention && !target.contention) {
        const drivers = target.wires.map((w, i) => `${endName(w.from)}=${String(target.drives[i] ?? 'released')}`);
        this.#log.warn(`net ${endName(end)} is driven both ways (${drivers.join(', ')}); it reads low`);
        this.emit('contention', endName(end), drivers);
      }
      target.contention = contention;
      if (level !== target.wanted) {
        target.wanted = level;
        this.#set(target);
      }
    }
  }

  /** Sets the input to the net's level, as a command would. */
  #set(target: Target): void {
    const chip = this.#chips.get(target.end.chip);
    const line = chip?.config.lines[target.end.line];
    if (chip === undefined || line === undefined || target.wanted === undefined) return;
    const outcome = chip.command(line, { target: { kind: 'level', level: target.wanted }, pulseMs: null });
    if (outcome.ok) return;
    // Without a guest the level is set when one binds its driver (see start()); anything else is worth saying.
    if (outcome.reason === 'chip_offline') return;
    const message = `wire to ${endName(target.end)}: ${outcome.error}`;
    this.#log.warn(message);
    this.emit('problem', message);
  }
}
