/**
 * A one-shot client, the path users take most: a fresh `mosquitto_pub`
 * process per command (start, connect, publish, disconnect) publishing
 * `.../set`, until the fake guest's doorbell fires. The same bridge on its
 * embedded broker and on Mosquitto as shipped, alternated in rounds.
 */
import { Mosquitto } from '../testkit/mosquitto.ts';
import type { BridgeBuild } from './bridge-process.ts';
import { mosquittoPub } from './guest-e2e.ts';
import { BASE, BUTTON, CHIP, HostRig } from './host-setup.ts';
import { timeToDoorbell } from './host-paths.ts';
import { inRounds, type Summary } from './samples.ts';

export interface OneShot {
  embedded: Summary;
  mosquitto: Summary;
}

function oneShots(rig: HostRig): (count: number) => Promise<number[]> {
  const port = Number(new URL(rig.url).port);
  return (count) => {
    let level = rig.guest.input(BUTTON);
    return timeToDoorbell(rig, count, async () => {
      level = level === 1 ? 0 : 1;
      await mosquittoPub(port, `${BASE}/${CHIP}/button/set`, level === 1 ? 'ON' : 'OFF');
    });
  };
}

export async function oneShotLatency(count: number, build: BridgeBuild): Promise<OneShot> {
  const mosquitto = await Mosquitto.start();
  const embedded = await HostRig.start({ build });
  const external = await HostRig.start({ build, broker: mosquitto.url });
  try {
    return await inRounds({ embedded: oneShots(embedded), mosquitto: oneShots(external) }, count, 4);
  } finally {
    await embedded.close();
    await external.close();
    await mosquitto.stop();
  }
}
