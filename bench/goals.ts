/**
 * The benchmark's goals (set by the bridge-core issue; until this file they
 * lived only in the notes under the runs), each with how a run's figures
 * read against it and, when missed, where the time goes: from the run's
 * own figures where they tell (the stand-in baselines), else what the
 * profiles in the notes of HISTORY.md found. RESULTS.md's goals table and
 * its trend table are both rendered from this list.
 */
import type { Broker, RunFigures } from './figures.ts';

export interface Reading {
  value: number;
  /** The reading as a cell, e.g. `0.79×`. */
  text: string;
  /** The goals table's cell, when it says more than `text` (the stall of a flood). */
  detail?: string;
  /** Missed whatever the value says (a flood that stalled). */
  missed?: boolean;
}

export interface Goal {
  figure: string;
  /** The trend table's column header; undefined: not in the trend table. */
  column: string | undefined;
  limit: { at: 'most' | 'least'; value: number; unit: '×' | ' MiB' | '%' | ' %' | '' | ' s' | ' ms' };
  /** The bench part that measures it when report() does not (bench/main.ts appends its section to a full run). */
  measuredBy?: string;
  read(f: RunFigures): Reading | undefined;
  /** Where the time goes when the goal is missed. */
  whereTimeGoes(f: RunFigures): string;
}

const x = (n: number): string => `${n.toFixed(2)}×`;
const ratioReading = (n: number | undefined): Reading | undefined => (n === undefined ? undefined : { value: n, text: x(n) });

function throughput(broker: Broker) {
  return (f: RunFigures): Reading | undefined => {
    const t = f.throughput[broker];
    if (t === undefined) return undefined;
    if (t.stalledAfter === undefined) return ratioReading(t.ratio);
    const until = t.ratio === undefined ? '' : `; ${x(t.ratio)} until then`;
    return { value: t.ratio ?? 0, text: t.ratio === undefined ? 'stalled' : `stalled (${x(t.ratio)})`, detail: `stalled after ${t.stalledAfter.toLocaleString('en-US')} commands${until}`, missed: true };
  };
}

/** The stand-in bridge's share of a command's latency (bench/stand-in.ts), from the run itself. */
function standInShare(broker: Broker) {
  return (f: RunFigures): string => {
    const standIn = f.standInToHop[broker];
    const added = f.bridgeToStandIn[broker];
    if (standIn === undefined || added === undefined) return 'no stand-in baseline in this run; see the notes in HISTORY.md';
    return `the stand-in bridge alone (mqtt.js in a second process, ringing the doorbell) is ${x(standIn)} the hop: the hop into another process; the bridge adds ${x(added)} to it`;
  };
}

const MEMORY = 'about 39 MiB are the node binary\'s pages (a bare `node` idles at 39 to 40 MiB); Aedes, prom-client and yaml add most of the rest (smaps and module costs in the notes of 135e98c, HISTORY.md)';
/** Why a Mosquitto flood falls short: the stall when it stalled, the cores in any case. */
function mosquittoFlood(broker: Broker) {
  return (f: RunFigures): string => {
    const cores = 'the two cores are the limit: Mosquitto spends ~62 µs per command (command in, edge and state out) against ~35 µs per hop message (notes of d1e18ed)';
    return f.throughput[broker]?.stalledAfter === undefined ? cores : `Mosquitto 2.0.11 stopped passing the bridge's commands (its queue count drifts after a long flood: docs/configuration.md); before that, ${cores}`;
  };
}

const BROKERS: Record<Broker, string> = { aedes: 'embedded Aedes', mosquitto: 'Mosquitto as shipped', nodelay: 'Mosquitto nodelay' };

/** Commands/s over the bare hop's messages/s, at least 0.7× with every broker. */
function throughputGoal(broker: Broker, column: string | undefined, whereTimeGoes: Goal['whereTimeGoes']): Goal {
  return { figure: `commands/s vs bare hop, ${BROKERS[broker]}`, column, limit: { at: 'least', value: 0.7, unit: '×' }, read: throughput(broker), whereTimeGoes };
}

/** `.../set` → doorbell p50 over the bare hop's, back to back. */
function commandGoal(broker: Broker, most: number, column: string | undefined): Goal {
  return {
    figure: `\`.../set\` → doorbell p50, ${BROKERS[broker]}`,
    column,
    limit: { at: 'most', value: most, unit: '×' },
    read: (f) => ratioReading(f.command[broker]),
    whereTimeGoes: standInShare(broker),
  };
}

type ScaleFigure = keyof RunFigures['scale'];

/** A goal on one figure of section 8 (bench/scale.ts): a ratio, or `as` says how its value reads. */
function scaleGoal(figure: string, key: ScaleFigure, limit: Goal['limit'], why: string, as: (n: number) => string = x): Goal {
  return {
    figure,
    column: undefined,
    limit,
    read: (f) => {
      const value = f.scale[key];
      return value === undefined ? undefined : { value, text: as(value) };
    },
    whereTimeGoes: () => why,
  };
}

/** Many chips and one-shot clients (issue 25, bench/scale.ts); where the time goes from the profiles of that work. */
const SCALE_GOALS: readonly Goal[] = [
  scaleGoal('start → `bridge/state` online, 256 × 32 vs 1 × 32', 'start', { at: 'most', value: 3, unit: '×' },
    'per chip: its configuration (YAML and schema), its metrics series (one per line), its retained states and configs published at start (profile in bench/scale.ts)'),
  scaleGoal('ivshmem server processes for 256 chips', 'servers', { at: 'most', value: 1, unit: '' },
    'a chip found its server gone (closed idle before the chip joined) and started its own: see StartedServers.release in bridge/chip/server-process.ts', String),
  scaleGoal('RSS idle (bridge + server process), 256 × 32 vs 16 × 32', 'rss', { at: 'most', value: 1.5, unit: '×' }, MEMORY),
  scaleGoal('idle CPU, 256 × 32, no guests (% of a core)', 'idleCpu', { at: 'most', value: 0.2, unit: ' %' },
    'V8\'s garbage collection returning start-up\'s heap when the window falls in the first minute (chips without a peer are not polled; settled, the bridge wakes about 5 times a second and the server process not at all: profile in bench/scale.ts)', (n) => `${n.toFixed(2)} %`),
  scaleGoal('commands/s round robin over 256 chips vs 1 chip', 'commands', { at: 'least', value: 0.8, unit: '×' },
    'not CPU: over 256 chips the bridge spends less per command (12.5 to 14.6 µs) than over one (16.6 µs) and a third of the machine is idle; the 64 commands in flight wait for guest acknowledgements, and over one chip a turn\'s commands share one doorbell and one guest wake-up where over 256 each rings its own chip and wakes its own fake guest (profile in bench/scale.ts)'),
  scaleGoal('one-shot client `.../set` → doorbell p50, embedded vs Mosquitto', 'oneShot', { at: 'most', value: 1.05, unit: '×' },
    'Aedes\' and Node\'s handling of a new connection (a Socket and an Aedes client per connection, the CONNECT series, a stream pipeline for the clean session\'s empty queue, the close, their garbage); the CONNACK\'s wait for the next turn and Aedes\' $SYS client announcements are gone, the bridge\'s own guards cost a few µs (profile in bench/scale.ts)'),
];

export const GOALS: readonly Goal[] = [
  throughputGoal('aedes', 'cmd/s Aedes', () => 'the bridge hosts the broker: per command Aedes matches and delivers three messages (command in, edge and state out) where the hop handles one (profile in the notes of 971ff26)'),
  throughputGoal('mosquitto', 'cmd/s Mosquitto', mosquittoFlood('mosquitto')),
  throughputGoal('nodelay', undefined, mosquittoFlood('nodelay')),
  commandGoal('aedes', 1.2, 'set→doorbell Aedes'),
  commandGoal('nodelay', 1.5, 'set→doorbell nodelay'),
  commandGoal('mosquitto', 2, undefined),
  {
    figure: 'guest output → state p50, embedded Aedes',
    column: 'output→state Aedes',
    limit: { at: 'most', value: 1.2, unit: '×' },
    read: (f) => ratioReading(f.guestOutput.aedes),
    whereTimeGoes: () => 'one wake-up more than the hop (the doorbell), then the scan and the edge published before the state (trace in the notes of 19f11ef)',
  },
  {
    figure: 'guest output → state p50, Mosquitto as shipped',
    column: undefined,
    limit: { at: 'most', value: 2, unit: '×' },
    read: (f) => ratioReading(f.guestOutput.mosquitto),
    whereTimeGoes: () => 'the state crosses into Mosquitto and out again, as the hop does, after the bridge\'s wake-up on the doorbell, which the hop does not have (notes of 971ff26)',
  },
  {
    figure: 'end to end, gpiomon, x86_64 guest, over the raw path',
    column: 'end to end',
    limit: { at: 'most', value: 1.5, unit: '×' },
    read: (f) => ratioReading(f.endToEnd.bridgeToRaw),
    whereTimeGoes: (f) => {
      const { standInToRaw, bridgeToStandIn } = f.endToEnd;
      const share = standInToRaw === undefined || bridgeToStandIn === undefined ? '' : `the stand-in alone is ${x(standInToRaw)} the raw path and the bridge adds ${x(bridgeToStandIn)}: `;
      return `${share}the MQTT hop into another process and its wake-up while QEMU's TCG thread holds a core (trace in the notes of 971ff26)`;
    },
  },
  {
    figure: 'RSS idle, 1 chip × 32 lines',
    column: 'RSS 1×32',
    limit: { at: 'most', value: 70, unit: ' MiB' },
    read: (f) => (f.rssIdle.one === undefined ? undefined : { value: f.rssIdle.one, text: `${f.rssIdle.one.toFixed(1)} MiB` }),
    whereTimeGoes: () => MEMORY,
  },
  {
    figure: 'RSS idle, 16 chips × 32 lines',
    column: undefined,
    limit: { at: 'most', value: 90, unit: ' MiB' },
    read: (f) => (f.rssIdle.sixteen === undefined ? undefined : { value: f.rssIdle.sixteen, text: `${f.rssIdle.sixteen.toFixed(1)} MiB` }),
    whereTimeGoes: () => MEMORY,
  },
  {
    figure: 'refused commands/s, 1,024 lines vs 32',
    column: '1,024 vs 32 lines',
    limit: { at: 'least', value: 0.8, unit: '×' },
    read: (f) => ratioReading(f.chipSize),
    whereTimeGoes: () => 'the two chips are measured one after the other: a low ratio has been the load of the moment, not the chip\'s size (1.95× and 0.88× for the same code, notes of 803792b)',
  },
  {
    figure: 'generated 100 Hz square wave, period error p50 in the guest',
    measuredBy: 'bench/signals.ts',
    column: undefined,
    limit: { at: 'most', value: 1, unit: '%' },
    read: (f) => (f.wave100HzError === undefined ? undefined : { value: f.wave100HzError, text: `${f.wave100HzError.toFixed(2)}%` }),
    whereTimeGoes: () => 'the section\'s "as written" columns split it: the bridge\'s own timing on the host (event-loop wake-ups under load, see docs/signals.md), the rest is the TCG guest taking the interrupt late',
  },
  ...SCALE_GOALS,
  {
    figure: 'commands/s through a 3-node RabbitMQ cluster (publisher and bridge on different nodes, `mqtt.prefetch = 256`) vs a bare hop between the same nodes',
    measuredBy: 'bench/cluster.ts',
    column: undefined,
    limit: { at: 'least', value: 0.7, unit: '×' },
    read: (f) => ratioReading(f.cluster.ratio),
    whereTimeGoes: () =>
      'the brokers: per command the cluster routes three messages (command in, edge and state out) where the hop routes one, and commands/s × 3 comes to the hop\'s messages/s (932 × 3 against 2,664, notes of the cluster rows in docs/deployment.md); RabbitMQ\'s default prefetch of 10 unacknowledged messages takes another quarter (676 commands/s)',
  },
  {
    figure: 'failover: RabbitMQ node killed → its bridge\'s chips online again on another node',
    measuredBy: 'bench/cluster.ts',
    column: undefined,
    limit: { at: 'most', value: 5, unit: ' s' },
    read: (f) => (f.cluster.failoverS === undefined ? undefined : { value: f.cluster.failoverS, text: `${f.cluster.failoverS.toFixed(2)} s` }),
    whereTimeGoes: () => 'mqtt.reconnect_ms (the pause before the next node is tried) and the new node\'s connect and session resume',
  },
  {
    figure: 'replay round trip: same edges, inter-edge error p50',
    column: 'replay error',
    limit: { at: 'most', value: 2, unit: ' ms' },
    read: (f) => (f.replay.errorP50 === undefined ? undefined : { value: f.replay.errorP50, text: `${f.replay.errorP50.toFixed(2)} ms`, ...(f.replay.same ? {} : { detail: `${f.replay.errorP50.toFixed(2)} ms, but the captures differ`, missed: true }) }),
    whereTimeGoes: (f) => (f.replay.same ? 'each played change is a set request answered by the bridge before the next is sent, and host edges are stamped in whole ms; a busy machine delays single edges (docs/replay.md)' : 'the second capture does not hold the first\'s edges: see the section\'s table'),
  },
];

export const goalText = (g: Goal): string => `${g.limit.at === 'most' ? '≤' : '≥'} ${g.limit.value}${g.limit.unit}`;

/** Whether `r` meets `g`; undefined when the run did not measure it. */
export function met(g: Goal, r: Reading | undefined): boolean | undefined {
  if (r === undefined) return undefined;
  if (r.missed === true) return false;
  return g.limit.at === 'most' ? r.value <= g.limit.value : r.value >= g.limit.value;
}
