/**
 * One net: the input line several wires drive. It resolves as open drain
 * with a pull-up: any driver low makes it low, else it is high (a
 * released driver, an output line the guest does not drive, counts as
 * high). One driver high and another low is contention: the net still
 * reads low, and the caller is told.
 */
import type { Level } from '../shm/line-registers.ts';

/** A driver's level, or undefined when it does not drive (released). */
export type Drive = Level | undefined;

export interface Resolution {
  level: Level;
  /** Driven both ways: some driver high, another low. */
  contention: boolean;
}

export class Net {
  readonly #drivers: Drive[];

  constructor(drivers: number) {
    this.#drivers = new Array<Drive>(drivers).fill(undefined);
  }

  /** Sets driver `index` and returns what the net now is. */
  drive(index: number, drive: Drive): Resolution {
    this.#drivers[index] = drive;
    return this.resolve();
  }

  resolve(): Resolution {
    const low = this.#drivers.includes(0);
    return { level: low ? 0 : 1, contention: low && this.#drivers.includes(1) };
  }
}
