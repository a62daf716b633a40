/**
 * `npm run bench:replay`: only section 8 of the benchmark, the replay round
 * trip in a TCG guest (bench/replay.ts), added to bench/RESULTS.md as a
 * partial run after the latest full run. About a minute.
 */
import { machine } from './machine.ts';
import { replayFigures, replaySection } from './replay.ts';
import { readResults, writeResults } from './results-io.ts';
import { withPartialRun } from './results-file.ts';
import { FULL } from './run.ts';

process.stderr.write(`bench: replay round trip in a TCG guest (${FULL.replayToggles} toggles)\n`);
const started = Date.now();
const replay = await replayFigures(FULL.replayToggles);
const m = machine();
const text = [
  `## Partial run of ${m.date}: replay only (npm run bench:replay)`,
  '',
  `Commit \`${m.commit}\`; ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; Linux ${m.kernel}; Node.js ${m.node}; ${m.qemu}. The run took ${((Date.now() - started) / 1000).toFixed(0)} s; load average at its end ${m.load}.`,
  '',
  ...replaySection(replay, FULL.replayToggles),
].join('\n');
writeResults(withPartialRun(readResults(), text));
process.stdout.write(text);
process.stderr.write('bench: added to bench/RESULTS.md after the latest full run\n');
