/**
 * The benchmark run: every figure of issue 8 with its baseline measured in
 * the same run, against the embedded Aedes and a real Mosquitto. `npm run
 * bench` runs it with the full counts and records the report as the
 * latest run of bench/RESULTS.md; test/bench/bench.test.ts runs the same
 * code with tiny counts.
 */
import { HopPair, hopRate } from './bare-hop.ts';
import { refusedRate, type ChipSizeRate } from './chip-size.ts';
import { footprint, type Footprint } from './footprint.ts';
import { FULL_SCALE, scaleBench, type ScaleCounts, type ScaleResults } from './scale.ts';
import { endToEnd, type EndToEnd, type GuestMode } from './guest-e2e.ts';
import { HostRig } from './host-setup.ts';
import { StandIn } from './stand-in-latency.ts';
import { commandLatency, settledCommandLatency, commandThroughput, guestOutputLatency, guestToHostEdges, hostToGuestEdges, type EdgeCount, type Throughput } from './host-paths.ts';
import { machine, type Machine } from './machine.ts';
import { replayFigures, type RoundTrip } from './replay.ts';
import type { BridgeBuild } from './bridge-process.ts';
import { inRounds, type Summary } from './samples.ts';
import { Mosquitto } from '../testkit/mosquitto.ts';

export interface BenchCounts {
  /** Samples per latency figure. */
  latency: number;
  throughputSeconds: number;
  /** Commands or messages in flight at most, for both throughput figures. */
  window: number;
  edges: number;
  e2eToggles: number;
  /** Toggles timed as a user would: one mosquitto_pub process each. */
  userToggles: number;
  idleMs: number;
  /** Toggles of the replay round trip's trace (bench/replay.ts). */
  replayToggles: number;
  /**
   * A second RSS reading this long after start-up: V8's memory reducer
   * gives back the heap start-up grew about 8 s after a full collection,
   * when start-up ran one.
   */
  settledMs: number;
  /** Many chips and one-shot clients (bench/scale.ts). */
  scale: ScaleCounts;
}

export const FULL: BenchCounts = { latency: 4000, throughputSeconds: 10, window: 256, edges: 10_000, e2eToggles: 200, userToggles: 40, idleMs: 3000, replayToggles: 200, settledMs: 15_000, scale: FULL_SCALE };

/**
 * Mosquitto twice: as Debian ships it, and with `set_tcp_nodelay true`. By
 * default it leaves Nagle's algorithm on, so the second of two small packets
 * it forwards back to back (a line's edge and state) waits for the
 * subscriber's delayed ACK, about 40 ms.
 */
const MOSQUITTO: { name: BrokerKind; conf: string[] }[] = [
  { name: 'Mosquitto (default config)', conf: [] },
  { name: 'Mosquitto (set_tcp_nodelay true)', conf: ['set_tcp_nodelay true'] },
];

export type BrokerKind = 'embedded Aedes' | 'Mosquitto (default config)' | 'Mosquitto (set_tcp_nodelay true)';

export interface BrokerResults {
  broker: BrokerKind;
  hop: Summary;
  /** Back to back: each command published as soon as the last one rang. */
  command: Summary;
  /** Each command published once the last one's edge had arrived (settledCommandLatency). */
  settled: Summary;
  /** The stand-in bridge's `.../set` -> doorbell (bench/stand-in.ts). */
  standIn: Summary;
  guestOutput: Summary;
  hopRate: { sent: number; received: number; perSecond: number };
  throughput: Throughput;
  hostToGuest: EdgeCount;
  guestToHost: EdgeCount;
  /**
   * The lost-edge figures were taken with a new broker and bridge: the
   * throughput flood had stalled (Mosquitto 2.0.11 stops passing commands
   * to a client after a long flood, docs/configuration.md), and a broker in
   * that state would count its own fault as lost edges.
   */
  edgesAfterRestart: boolean;
}

/** An external broker for one set of figures: started anew when a flood left it stalled. */
interface ExternalBroker {
  url: string;
  close(): Promise<void>;
}

export interface BenchResults {
  machine: Machine;
  counts: BenchCounts;
  brokers: BrokerResults[];
  footprints: Footprint[];
  /** Refused commands per second on a 32-line and a 1,024-line chip. */
  chipSizes: ChipSizeRate[];
  endToEnd: EndToEnd;
  /** Why doorbell mode could not be measured, when it could not. */
  doorbellFailure: string | undefined;
  /** The same in an arm64 guest (qemu-system-aarch64 -M virt, doorbell mode). */
  endToEndArm64: EndToEnd;
  scale: ScaleResults;
  replay: RoundTrip;
  seconds: number;
}

export interface BenchOptions {
  counts: BenchCounts;
  build: BridgeBuild;
  log: (line: string) => void;
}

/** The host-side latency figures are taken in this many rounds of every figure in turn (see inRounds). */
export const LATENCY_ROUNDS = 20;

/** `startBroker`: starts the external broker (undefined: the bridge's embedded one). */
async function hostFigures(broker: BrokerKind, startBroker: (() => Promise<ExternalBroker>) | undefined, options: BenchOptions): Promise<BrokerResults> {
  const { counts, log } = options;
  let external = await startBroker?.();
  const startRig = (): Promise<HostRig> => HostRig.start({ build: options.build, ...(external === undefined ? {} : { broker: external.url }) });
  let rig = await startRig();
  try {
    log(`${broker}: latency (${counts.latency} samples each, in ${LATENCY_ROUNDS} rounds)`);
    const hopPair = await HopPair.open(rig.url);
    const standInBridge = await StandIn.start(rig);
    let latency;
    try {
      latency = await inRounds(
        {
          hop: (n) => hopPair.latency(n),
          command: (n) => commandLatency(rig, n),
          settled: (n) => settledCommandLatency(rig, n),
          standIn: (n) => standInBridge.latency(n),
          guestOutput: (n) => guestOutputLatency(rig, n),
        },
        counts.latency,
        LATENCY_ROUNDS,
      );
    } finally {
      await standInBridge.stop();
      await hopPair.close();
    }
    log(`${broker}: throughput (${counts.throughputSeconds} s each)`);
    const rate = await hopRate(rig.url, counts.throughputSeconds, counts.window);
    const throughput = await commandThroughput(rig, counts.throughputSeconds, counts.window);
    const edgesAfterRestart = throughput.stalled !== undefined;
    if (edgesAfterRestart) {
      log(`${broker}: the throughput flood stalled (${throughput.stalled ?? ''}); lost edges with a new broker and bridge`);
      await rig.close();
      await external?.close();
      external = await startBroker?.();
      rig = await startRig();
    }
    log(`${broker}: lost edges (${counts.edges} each way)`);
    const hostToGuest = await hostToGuestEdges(rig, counts.edges);
    const guestToHost = await guestToHostEdges(rig, counts.edges);
    return { broker, ...latency, hopRate: rate, throughput, hostToGuest, guestToHost, edgesAfterRestart };
  } finally {
    await rig.close();
    await external?.close();
  }
}

export async function runBench(options: BenchOptions): Promise<BenchResults> {
  const started = Date.now();
  const { counts, log } = options;
  const brokers = [await hostFigures('embedded Aedes', undefined, options)];
  for (const { name, conf } of MOSQUITTO) brokers.push(await hostFigures(name, () => Mosquitto.start({ extra: conf }), options));
  log(`per-command cost against the chip's size (${counts.throughputSeconds} s each)`);
  const chipSizes = [await refusedRate(32, counts.throughputSeconds, counts.window, options.build), await refusedRate(1024, counts.throughputSeconds, counts.window, options.build)];
  log('memory and start-up');
  const footprints = [await footprint(1, counts, options.build), await footprint(16, counts, options.build)];
  log(`end to end in a TCG guest (${counts.e2eToggles} toggles per path), doorbell mode`);
  let doorbellFailure: string | undefined;
  let e2e: EndToEnd;
  try {
    e2e = await endToEnd('doorbell', counts.e2eToggles, counts.userToggles, options.build);
  } catch (error) {
    doorbellFailure = (error as Error).message.split('\n')[0] ?? 'unknown error';
    log(`doorbell mode failed (${doorbellFailure}); measuring in polling mode`);
    e2e = await endToEnd('polling' satisfies GuestMode, counts.e2eToggles, counts.userToggles, options.build);
  }
  log(`end to end in an arm64 TCG guest (${counts.e2eToggles} toggles per path), doorbell mode`);
  const e2eArm64 = await endToEnd('doorbell', counts.e2eToggles, 0, options.build, 'aarch64');
  log(`replay round trip in a TCG guest (${counts.replayToggles} toggles)`);
  const replay = await replayFigures(counts.replayToggles);
  const scale = await scaleBench(counts.scale, options.build, log);
  return { machine: machine(), counts, brokers, footprints, chipSizes, endToEnd: e2e, doorbellFailure, endToEndArm64: e2eArm64, replay, scale, seconds: (Date.now() - started) / 1000 };
}
