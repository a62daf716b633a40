/**
 * Runs the stand-in bridge (bench/stand-in.ts) beside a HostRig's bridge,
 * as another peer of the same ivshmem server, and times its `.../set` ->
 * doorbell path the way commandLatency times the bridge's.
 */
import { join } from 'node:path';
import { timeToDoorbell } from './host-paths.ts';
import type { HostRig } from './host-setup.ts';
import { startReadyChild } from './ready-child.ts';
import type { Summary } from './samples.ts';

/** Outside the bridge's base topic, so the bridge never sees these messages. */
const TOPIC = 'bench-stand-in/line/set';

export async function standInLatency(rig: HostRig, count: number): Promise<Summary> {
  const standIn = await startReadyChild('bench/stand-in.ts', [rig.url, join(rig.dir, 'board.sock'), TOPIC]);
  try {
    return await timeToDoorbell(rig, count, (i) => rig.commander.publishAsync(TOPIC, i % 2 === 0 ? 'ON' : 'OFF', { qos: 1 }).then(() => undefined));
  } finally {
    await standIn.stop();
  }
}
