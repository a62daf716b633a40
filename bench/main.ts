/**
 * `npm run bench`: the full benchmark run (about four minutes on two
 * cores, three more for the web view's rows, bench/web.ts, and two for the
 * clustered broker's, bench/cluster.ts). It becomes
 * the latest run of bench/RESULTS.md; the run it replaces moves to
 * bench/HISTORY.md (bench/results-file.ts). Run it on an idle machine; the
 * figures are only comparable within one run.
 */
import { report } from './report.ts';
import { readResults, writeResults } from './results-io.ts';
import { withNewRun } from './results-file.ts';
import { FULL, runBench } from './run.ts';
import { signalsBench, signalsReport } from './signals.ts';
import { webBench, webReport } from './web.ts';
import { clusterBench, clusterReport } from './cluster.ts';

const log = (line: string): void => {
  process.stderr.write(`bench: ${line}\n`);
};

const results = await runBench({ counts: FULL, build: 'dist', log });
const text = report(results) + webReport(await webBench('dist', log)) + signalsReport(await signalsBench(log)) + clusterReport(await clusterBench('dist', FULL.throughputSeconds, FULL.window, log));
writeResults(withNewRun(readResults(), text));
process.stdout.write(text);
log('recorded as the latest run of bench/RESULTS.md; the run before it moved to bench/HISTORY.md');
