/**
 * The headline figures of one run, read back from its section of
 * RESULTS.md or HISTORY.md. Read from the Markdown rather than kept apart
 * so that every recorded run, also those written before this file existed
 * (their tables gained columns over time), feeds the trend table and the
 * goals in the same way; columns are found by their headers.
 */
import { blocks, tables, type Table } from './markdown.ts';

export type Broker = 'aedes' | 'mosquitto' | 'nodelay';

/** The broker of a table row (the first runs called Mosquitto as shipped just "Mosquitto"). */
const BROKER_ROWS: Record<string, Broker> = {
  'embedded Aedes': 'aedes',
  Mosquitto: 'mosquitto',
  'Mosquitto (default config)': 'mosquitto',
  'Mosquitto (set_tcp_nodelay true)': 'nodelay',
};

export interface Throughput {
  /** Commands/s over the bare hop's messages/s; for a stalled flood, until its last acknowledgement (when recorded). */
  ratio: number | undefined;
  /** Commands sent when the flood stalled (Mosquitto 2.0.11 dropping them). */
  stalledAfter: number | undefined;
}

export interface RunFigures {
  /** `2026-12-07 02:55Z`, from the run's heading. */
  date: string;
  /** The short commit hash, when the run recorded it. */
  commit: string | undefined;
  throughput: Partial<Record<Broker, Throughput>>;
  /** `.../set` → doorbell p50 over the bare hop's, back to back. */
  command: Partial<Record<Broker, number>>;
  /** The stand-in bridge's `.../set` → doorbell p50 over the bare hop's. */
  standInToHop: Partial<Record<Broker, number>>;
  /** The bridge's `.../set` → doorbell p50 over the stand-in's. */
  bridgeToStandIn: Partial<Record<Broker, number>>;
  /** Guest output → state p50 over the bare hop's. */
  guestOutput: Partial<Record<Broker, number>>;
  /** End to end in the x86_64 guest, reported by gpiomon: p50 ratios. */
  endToEnd: { bridgeToRaw: number | undefined; standInToRaw: number | undefined; bridgeToStandIn: number | undefined };
  /** RSS idle in MiB, by number of 32-line chips. */
  rssIdle: { one: number | undefined; sixteen: number | undefined };
  /** Refused commands/s on a 1,024-line chip over a 32-line one. */
  chipSize: number | undefined;
  /** A 100 Hz generated square wave's period error p50 in the guest, % of the period (bench/signals.ts). */
  wave100HzError: number | undefined;
  /** Many chips and one-shot clients (bench/scale.ts): ratios, except the server process count and idle CPU (% of a core). */
  scale: Record<'start' | 'servers' | 'rss' | 'idleCpu' | 'commands' | 'oneShot', number | undefined>;
  /** The clustered broker's rows (bench/cluster.ts): commands/s over the bare hop with the recipe's prefetch, and the failover in seconds. */
  cluster: { ratio: number | undefined; failoverS: number | undefined };
  /** The replay round trip: inter-edge error p50 in ms, and whether both captures held the same edges. */
  replay: { errorP50: number | undefined; same: boolean };
}

/** The first number of a cell: `0.76× / 1.29×` → 0.76 (the p50); `**0**` → 0; `—` → undefined. */
function num(cell: string | undefined): number | undefined {
  const match = /-?\d+(?:\.\d+)?/.exec((cell ?? '').replaceAll(',', ''));
  return match === null ? undefined : Number(match[0]);
}

/** The `### N.` subsection of a run, or '' when the run has none. */
function section(run: string, n: number): string {
  return blocks(run, 3).blocks.find((b) => b.heading.startsWith(`### ${n}.`))?.text ?? '';
}

/** A row's cell under the first header that starts with `column`. */
function cell(table: Table, row: string[], column: string): string | undefined {
  const i = table.header.findIndex((h) => h.startsWith(column));
  return i < 0 ? undefined : row[i];
}

/** Every broker row of a table, by broker (restarted rows skipped). */
function byBroker<T>(table: Table | undefined, read: (row: string[]) => T | undefined): Partial<Record<Broker, T>> {
  const out: Partial<Record<Broker, T>> = {};
  for (const row of table?.rows ?? []) {
    const broker = BROKER_ROWS[row[0] ?? ''];
    const value = read(row);
    if (broker !== undefined && value !== undefined) out[broker] = value;
  }
  return out;
}

const p50 = (cellText: string | undefined): number | undefined => num(cellText?.split('/')[0]);

function latencies(run: string): Pick<RunFigures, 'command' | 'standInToHop' | 'bridgeToStandIn'> {
  const t = tables(section(run, 1))[0];
  if (t === undefined) return { command: {}, standInToHop: {}, bridgeToStandIn: {} };
  // The command's ratio is the column right after the first `.../set` → doorbell one.
  const commandAt = t.header.findIndex((h) => h.startsWith('`.../set` → doorbell'));
  return {
    command: commandAt < 0 ? {} : byBroker(t, (row) => num(row[commandAt + 1])),
    standInToHop: byBroker(t, (row) => {
      const standIn = p50(cell(t, row, 'stand-in'));
      const hop = p50(cell(t, row, 'bare hop'));
      return standIn === undefined || hop === undefined || hop === 0 ? undefined : standIn / hop;
    }),
    bridgeToStandIn: byBroker(t, (row) => num(cell(t, row, 'back to back, ratio to the stand-in') ?? cell(t, row, 'ratio to the stand-in'))),
  };
}

function throughputs(run: string): Partial<Record<Broker, Throughput>> {
  const text = section(run, 2);
  const t = tables(text)[0];
  if (t === undefined) return {};
  return byBroker(t, (row) => {
    if (cell(t, row, 'commands/s') !== 'stalled') return { ratio: num(cell(t, row, 'ratio')), stalledAfter: undefined };
    const escaped = (row[0] ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const before = new RegExp(`^${escaped}: the flood stalled: .*?\\(([\\d.]+)× the bare hop\\)`, 'm').exec(text)?.[1];
    return { ratio: num(before), stalledAfter: num(cell(t, row, 'sent')) };
  });
}

function endToEnd(run: string): RunFigures['endToEnd'] {
  const t = tables(section(run, 4))[0];
  // The first runs had neither the guest nor the reporter column: their one row is x86_64 and gpiomon.
  const row = t?.rows.find((r) => (r.includes('x86_64') || !t.header.includes('guest')) && (r.includes('gpiomon, serial console') || !t.header.includes('reported by')));
  if (t === undefined || row === undefined) return { bridgeToRaw: undefined, standInToRaw: undefined, bridgeToStandIn: undefined };
  return { bridgeToRaw: num(cell(t, row, 'ratio')), standInToRaw: num(cell(t, row, 'stand-in to raw')), bridgeToStandIn: num(cell(t, row, 'bridge to stand-in')) };
}

function rssIdle(run: string): RunFigures['rssIdle'] {
  const t = tables(section(run, 6))[0];
  const rss = (chips: string): number | undefined => {
    const row = t?.rows.find((r) => r[0] === chips);
    return t === undefined || row === undefined ? undefined : num(cell(t, row, 'RSS idle'));
  };
  return { one: rss('1 × 32'), sixteen: rss('16 × 32') };
}

function wave100HzError(run: string): number | undefined {
  const text = blocks(run, 3).blocks.find((b) => b.heading.startsWith('### Generated waveforms'))?.text ?? '';
  const t = tables(text)[0];
  const row = t?.rows.find((r) => r[0] === '100 Hz');
  return t === undefined || row === undefined ? undefined : num(cell(t, row, 'guest p50 %'));
}

/** Section 8 (bench/scale.ts): each row's ratio, or its value where it has no baseline. */
function scale(run: string): RunFigures['scale'] {
  const t = tables(section(run, 8))[0];
  const row = (start: string): string[] | undefined => t?.rows.find((r) => (r[0] ?? '').startsWith(start));
  const ratioOf = (start: string): number | undefined => num(row(start)?.[3]);
  const valueOf = (start: string): number | undefined => num(row(start)?.[1]);
  return {
    start: ratioOf('start →'),
    servers: valueOf('ivshmem server processes'),
    rss: ratioOf('RSS idle'),
    idleCpu: valueOf('idle CPU'),
    commands: ratioOf('commands/s round robin'),
    oneShot: ratioOf('one-shot client'),
  };
}

function replay(run: string): RunFigures['replay'] {
  const t = tables(section(run, 9))[0];
  const row = t?.rows[0];
  return t === undefined || row === undefined ? { errorP50: undefined, same: false } : { errorP50: num(cell(t, row, 'inter-edge error p50')), same: cell(t, row, 'same edges') === 'yes' };
}

/** `## Run of 2026-12-07T02:55:01.106Z` → `2026-12-07 02:55Z`; undefined for any other heading. */
function runDate(heading: string): string | undefined {
  const m = /^## Run of (\d{4}-\d\d-\d\d)T(\d\d:\d\d)/.exec(heading);
  return m === null ? undefined : `${m[1] ?? ''} ${m[2] ?? ''}Z`;
}

/** The clustered broker's section, found by its title (it is not numbered). */
function cluster(run: string): RunFigures['cluster'] {
  const text = blocks(run, 3).blocks.find((b) => b.heading.startsWith('### Clustered broker'))?.text ?? '';
  const rows = tables(text)[0]?.rows ?? [];
  const value = (start: string): number | undefined => num(rows.find((r) => (r[0] ?? '').startsWith(start))?.[1]);
  const failoverMs = value('failover');
  return { ratio: value('commands/s vs bare hop, prefetch 256'), failoverS: failoverMs === undefined ? undefined : failoverMs / 1000 };
}

/** The figures of a full run's block (`## Run of ...`); undefined for any other block. */
export function figuresOf(run: string): RunFigures | undefined {
  const date = runDate(run.split('\n')[0] ?? '');
  if (date === undefined) return undefined;
  const t7 = tables(section(run, 7))[0];
  return {
    date,
    commit: /^Commit `([0-9a-f]{7})/m.exec(run)?.[1],
    throughput: throughputs(run),
    ...latencies(run),
    guestOutput: byBroker(tables(section(run, 3))[0], (row) => num(row[3])),
    endToEnd: endToEnd(run),
    rssIdle: rssIdle(run),
    chipSize: num(t7?.rows.find((r) => r[0] === '1024')?.at(-1)),
    wave100HzError: wave100HzError(run),
    scale: scale(run),
    cluster: cluster(run),
    replay: replay(run),
  };
}
