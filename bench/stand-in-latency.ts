/**
 * Runs the stand-in bridge (bench/stand-in.ts) beside a HostRig's bridge,
 * as another peer of the same ivshmem server, and times its `.../set` ->
 * doorbell path the way commandLatency times the bridge's.
 */
import { join } from 'node:path';
import { timeToDoorbell } from './host-paths.ts';
import type { HostRig } from './host-setup.ts';
import { startReadyChild, type ReadyChild } from './ready-child.ts';

/** Outside the bridge's base topic, so the bridge never sees these messages. */
const TOPIC = 'bench-stand-in/line/set';

export class StandIn {
  readonly #rig: HostRig;
  readonly #process: ReadyChild;

  private constructor(rig: HostRig, process: ReadyChild) {
    this.#rig = rig;
    this.#process = process;
  }

  static async start(rig: HostRig): Promise<StandIn> {
    return new StandIn(rig, await startReadyChild('bench/stand-in.ts', [rig.url, join(rig.dir, 'board.sock'), TOPIC]));
  }

  /** `count` commands to the stand-in, one at a time: milliseconds from publishing to the guest's doorbell. */
  latency(count: number): Promise<number[]> {
    return timeToDoorbell(this.#rig, count, (i) => this.#rig.commander.publishAsync(TOPIC, i % 2 === 0 ? 'ON' : 'OFF', { qos: 1 }).then(() => undefined));
  }

  stop(): Promise<void> {
    return this.#process.stop();
  }
}
