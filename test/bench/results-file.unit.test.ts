/**
 * The layout of bench/RESULTS.md and bench/HISTORY.md, from fake runs
 * rendered by the real report(): the latest run first with the goals and
 * trend tables rendered from it, older runs moved whole (notes included)
 * to the history, newest first. No benchmark runs here; the whole run is
 * test/bench/bench.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EndToEnd } from '../../bench/guest-e2e.ts';
import { figuresOf } from '../../bench/figures.ts';
import { GOALS } from '../../bench/goals.ts';
import { blocks } from '../../bench/markdown.ts';
import { report } from '../../bench/report.ts';
import { signalsReport } from '../../bench/signals.ts';
import { clusterReport } from '../../bench/cluster.ts';
import { GOALS_HEADING, renderResults, splitResults, SPREAD_HEADING, TREND_HEADING, withNewRun, withPartialRun } from '../../bench/results-file.ts';
import { FULL, type BenchResults, type BrokerResults } from '../../bench/run.ts';
import type { Summary } from '../../bench/samples.ts';

const summary = (p50: number): Summary => ({ n: 4000, p50, p90: p50 * 2, p99: p50 * 4 });
const edges = { sent: 10_000, delivered: 10_000, published: 10_000, rejected: 0, ringDropped: 0 };

/** A run whose Aedes figures are `scale` times the hop (commands/s, `.../set` → doorbell, guest output) and RSS `rss` MiB. */
function fakeRun(date: string, commit: string, scale: number, rss: number): BenchResults {
  const broker = (name: BrokerResults['broker'], stalled: boolean): BrokerResults => ({
    broker: name,
    hop: summary(0.1),
    command: summary(0.1 * scale),
    settled: summary(0.1 * scale),
    standIn: summary(0.08),
    guestOutput: summary(0.1 * scale),
    hopRate: { sent: 500_000, received: 500_000, perSecond: 50_000 },
    throughput: stalled
      ? { sent: 127_752, delivered: 127_496, published: 127_496, rejected: 0, perSecond: Number.NaN, stalled: '256 of 127752 commands not acknowledged', perSecondBeforeStall: 35_000 }
      : { sent: 400_000, delivered: 400_000, published: 400_000, rejected: 0, perSecond: 50_000 * scale },
    hostToGuest: edges,
    guestToHost: edges,
    edgesAfterRestart: stalled,
  });
  const e2e = (arch: EndToEnd['arch']): EndToEnd => ({ arch, mode: 'doorbell', bridge: summary(1.2), raw: summary(0.5), standIn: summary(1), agentBridge: summary(1.5), agentRaw: summary(1), mosquittoPub: summary(20) });
  return {
    machine: { date, commit, cpu: 'AMD EPYC', cores: 2, memoryGiB: '23.5', kernel: '6.18', node: 'v20.20.2', qemu: 'QEMU emulator version 7.2.22', mosquitto: 'mosquitto version 2.0.11', load: '1.00' },
    counts: FULL,
    brokers: [broker('embedded Aedes', false), broker('Mosquitto (default config)', true), broker('Mosquitto (set_tcp_nodelay true)', false)],
    footprints: [
      { chips: 1, startMs: 600, rssMiB: rss, settledRssMiB: rss, serverRssMiB: 46.5 },
      { chips: 16, startMs: 1700, rssMiB: rss + 6, settledRssMiB: rss + 6, serverRssMiB: 46.8 },
    ],
    chipSizes: [
      { lines: 32, sent: 600_000, answered: 600_000, perSecond: 60_000 },
      { lines: 1024, sent: 570_000, answered: 570_000, perSecond: 57_000 },
    ],
    endToEnd: e2e('x86_64'),
    doorbellFailure: undefined,
    endToEndArm64: e2e('aarch64'),
    scale: {
      counts: FULL.scale,
      startMs: { one: 600, many: 1500 },
      serverProcesses: 1,
      rssMiB: { some: 110, many: 140, someEarly: 112, manyEarly: 180 },
      idleCpuPercent: 0.15,
      commandsPerSecond: { one: 10_000, many: 9_000 },
      oneShot: { embedded: summary(4 * scale), mosquitto: summary(4) },
    },
    replay: { edges: 202, mismatch: undefined, errorMs: summary(0.5), signedMs: summary(0) },
    seconds: 230,
  };
}

const RUN1 = report(fakeRun('2026-12-08T10:00:00.000Z', 'aaaaaaa11111', 0.9, 68.5));
const RUN2 = report(fakeRun('2026-12-08T11:00:00.000Z', 'bbbbbbb22222', 1.1, 69.5));
const spread = (p50: number): { n: number; p50: number; p99: number } => ({ n: 100, p50, p99: 4 * p50 });
/** The latest run with the waveform section bench/main.ts appends (bench/signals.ts). */
const RUN3_SIGNALS = report(fakeRun('2026-12-08T12:00:00.000Z', 'ccccccc33333', 0.5, 72.25)) + signalsReport({
  waves: [{ hz: 10, edges: 100, lost: 0, guest: spread(0.5), host: spread(0.4) }, { hz: 100, edges: 1000, lost: 0, guest: spread(0.25), host: spread(0.2) }],
  wire: { ...spread(2), edges: 40, changes: 40 },
  loadAverage: 1,
});
/** ... and the clustered broker's section (bench/cluster.ts). */
const RUN3 =
  RUN3_SIGNALS +
  clusterReport({ seconds: 1, window: 8, hopPerSecond: 1000, persistentHopPerSecond: 900, commandsPerSecond: 300, prefetchCommandsPerSecond: 400, stalled: undefined, failoverMs: 600 });
const NOTES1 = '### Notes on the run of 10:00Z\n\nRun one was taken on a quiet machine.\n';
const NOTES2 = '### Notes on the run of 11:00Z\n\nRun two: a profile of the bridge.\n\n- one finding\n- another\n';

/** RESULTS.md as the bench wrote it before this layout: a log of runs, newest last, notes after their run. */
const LOG = `# Benchmark results\n\nAppended by \`npm run bench\` (bench/main.ts), newest last.\n\n${RUN1}\n${NOTES1}\n${RUN2}\n${NOTES2}`;

const headings = (text: string): string[] => blocks(text, 2).blocks.map((b) => b.heading);
/** The rows of the table under a `## ` heading. */
function tableRows(text: string, heading: string): string[] {
  const block = blocks(text, 2).blocks.find((b) => b.heading.startsWith(heading))?.text ?? '';
  return block.split('\n').filter((line) => line.startsWith('|')).slice(2);
}
const goalRow = (text: string, figure: string): string => tableRows(text, GOALS_HEADING).find((row) => row.startsWith(`| ${figure} |`)) ?? '';

describe('RESULTS.md and HISTORY.md after a new run', () => {
  const after = withNewRun({ results: LOG, history: '' }, RUN3);

  it('puts the new run first, after the goals, the trend and the spread', () => {
    assert.deepEqual(headings(after.results), [GOALS_HEADING, TREND_HEADING, SPREAD_HEADING, '## Run of 2026-12-08T12:00:00.000Z']);
    assert.ok(after.results.startsWith('# Benchmark results\n'));
    assert.ok(after.results.includes(RUN3.trimEnd()), 'the run whole');
    assert.ok(!after.results.includes('Run one was taken') && !after.results.includes('Run two: a profile'), 'older notes left RESULTS.md');
  });

  it('moves the runs before it to the history, newest first, each with its notes', () => {
    assert.deepEqual(headings(after.history), ['## Run of 2026-12-08T11:00:00.000Z', '## Run of 2026-12-08T10:00:00.000Z']);
    const [run2, run1] = blocks(after.history, 2).blocks;
    assert.equal(run2?.text.trimEnd(), `${RUN2}\n${NOTES2}`.trimEnd(), 'run two and its notes, as written');
    assert.equal(run1?.text.trimEnd(), `${RUN1}\n${NOTES1}`.trimEnd());
    assert.match(after.history, /^# Benchmark history\n/);
  });

  it('has a trend row for each of the three runs, newest first', () => {
    const rows = tableRows(after.results, TREND_HEADING);
    assert.equal(rows.length, 3);
    assert.deepEqual(
      rows.map((row) => row.split('|').slice(1, 3).map((c) => c.trim())),
      [
        ['2026-12-08 12:00Z', '`ccccccc`'],
        ['2026-12-08 11:00Z', '`bbbbbbb`'],
        ['2026-12-08 10:00Z', '`aaaaaaa`'],
      ],
    );
    assert.match(rows[0] ?? '', /\| 0\.50× \| stalled \(0\.70×\) \| 0\.50× \| 0\.50× \| 0\.50× \| 2\.40× | 72\.3 MiB \| 0\.95× \| 0\.50 ms \|$/);
    assert.match(rows[1] ?? '', /^\| 2026-12-08 11:00Z \| `bbbbbbb` \| 1\.10× \|/);
  });

  it('reads the goals against the new run, with where the time goes for a miss', () => {
    assert.match(after.results, /The run of 2026-12-08 12:00Z \(commit `ccccccc`\)/);
    assert.match(goalRow(after.results, 'commands/s vs bare hop, embedded Aedes'), /\| ≥ 0\.7× \| 0\.50× \| \*\*no\*\* \| the bridge hosts the broker/);
    assert.match(goalRow(after.results, 'commands/s vs bare hop, Mosquitto as shipped'), /\| stalled after 127,752 commands; 0\.70× until then \| \*\*no\*\* \| Mosquitto 2\.0\.11 stopped/);
    assert.match(goalRow(after.results, '`.../set` → doorbell p50, embedded Aedes'), /\| ≤ 1\.2× \| 0\.50× \| yes \| {2}\|$/);
    assert.match(goalRow(after.results, 'end to end, gpiomon, x86_64 guest, over the raw path'), /\| 2\.40× \| \*\*no\*\* \| the stand-in alone is 2\.00× the raw path and the bridge adds 1\.20×/);
    assert.match(goalRow(after.results, 'RSS idle, 1 chip × 32 lines'), /\| ≤ 70 MiB \| 72\.3 MiB \| \*\*no\*\* \|/);
    assert.match(goalRow(after.results, 'RSS idle, 16 chips × 32 lines'), /\| 78\.3 MiB \| yes \|/);
  });
});

describe('a run read back from its section', () => {
  it('gives every goal its figure, as report() renders it today', () => {
    const f = figuresOf(RUN3);
    assert.ok(f !== undefined);
    assert.deepEqual(
      GOALS.filter((g) => g.read(f) === undefined).map((g) => g.figure),
      [],
    );
    assert.equal(f.commit, 'ccccccc');
    assert.equal(f.throughput.mosquitto?.stalledAfter, 127_752);
    assert.equal(f.wave100HzError, 2.5, '0.25 ms of a 10 ms period');
  });

  it('is no full run without its `## Run of` heading', () => {
    assert.equal(figuresOf(RUN3.replace('## Run of', '## Partial run of')), undefined);
  });
});

describe('the next runs in that layout', () => {
  const spread = `${SPREAD_HEADING}\n\nWritten by hand: the same code varied by 0.2× between runs.\n`;
  const first = withNewRun({ results: LOG, history: '' }, RUN3);
  const withSpread = { ...first, results: first.results.replace(blocks(first.results, 2).blocks[2]?.text ?? '', `${spread}\n`) };
  const noted = { ...withSpread, results: `${withSpread.results}\n### Notes on the run of 12:00Z\n\nRun three: the bridge was rebuilt.\n` };
  const RUN4 = report(fakeRun('2026-12-08T13:00:00.000Z', 'ddddddd44444', 1, 69));

  it('moves the notes written under the latest run with it, keeps the spread, and adds a fourth trend row', () => {
    const after = withNewRun(noted, RUN4);
    assert.deepEqual(headings(after.history).slice(0, 2), ['## Run of 2026-12-08T12:00:00.000Z', '## Run of 2026-12-08T11:00:00.000Z']);
    assert.match(blocks(after.history, 2).blocks[0]?.text ?? '', /### Notes on the run of 12:00Z\n\nRun three: the bridge was rebuilt\.\n/);
    assert.ok(after.results.includes(spread), 'the hand-written spread, as written');
    assert.ok(!after.results.includes('Run three'));
    assert.equal(tableRows(after.results, TREND_HEADING).length, 4);
    assert.match(goalRow(after.results, 'commands/s vs bare hop, embedded Aedes'), /\| 1\.00× \| yes \|/);
  });

  it('adds a partial run after the latest full run; it moves with that run, newest first', () => {
    const partial = '## Partial run of 2026-12-08T12:30:00.000Z: end to end only (npm run bench:e2e)\n\nSection 4 only.\n';
    const withPartial = withPartialRun(noted, partial);
    assert.deepEqual(headings(withPartial.results).slice(3), ['## Run of 2026-12-08T12:00:00.000Z', '## Partial run of 2026-12-08T12:30:00.000Z: end to end only (npm run bench:e2e)']);
    assert.equal(withPartial.history, noted.history);
    assert.equal(tableRows(withPartial.results, TREND_HEADING).length, 3, 'a partial run is no full run');
    const after = withNewRun(withPartial, RUN4);
    assert.deepEqual(headings(after.history).slice(0, 2), ['## Partial run of 2026-12-08T12:30:00.000Z: end to end only (npm run bench:e2e)', '## Run of 2026-12-08T12:00:00.000Z']);
  });

  it('starts both files from nothing', () => {
    const after = withNewRun({ results: '', history: '' }, RUN1);
    assert.equal(after.history, '');
    assert.deepEqual(headings(after.results), [GOALS_HEADING, TREND_HEADING, SPREAD_HEADING, '## Run of 2026-12-08T10:00:00.000Z']);
    assert.equal(tableRows(after.results, TREND_HEADING).length, 1);
  });
});

describe('the recorded bench/RESULTS.md', () => {
  const dir = join(import.meta.dirname, '../../bench');
  const results = readFileSync(join(dir, 'RESULTS.md'), 'utf8');
  const history = readFileSync(join(dir, 'HISTORY.md'), 'utf8');

  it('is what the bench renders from its latest run, its spread and HISTORY.md', () => {
    const { latest, spread } = splitResults(results);
    assert.equal(renderResults(latest, spread, history), results);
  });

  it('has a trend row for every full run recorded in either file', () => {
    const runs = [...headings(results), ...headings(history)].filter((h) => h.startsWith('## Run of '));
    assert.equal(tableRows(results, TREND_HEADING).length, runs.length);
  });
});
