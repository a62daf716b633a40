/**
 * `npm run bench:e2e`: only section 4 of the benchmark, end to end in real
 * TCG guests (doorbell mode, 200 toggles per path) in an x86_64 and an arm64
 * guest, each against the raw path in its own boot; added to
 * bench/RESULTS.md as a partial run after the latest full run, with which
 * it moves to bench/HISTORY.md. A few minutes where `npm run bench` takes
 * more.
 */
import { endToEnd } from './guest-e2e.ts';
import { machine } from './machine.ts';
import { endToEndRows } from './report.ts';
import { readResults, writeResults } from './results-io.ts';
import { withPartialRun } from './results-file.ts';
import { FULL } from './run.ts';

const log = (line: string): void => {
  process.stderr.write(`bench: ${line}\n`);
};

const started = Date.now();
const guests = [];
for (const arch of ['x86_64', 'aarch64'] as const) {
  log(`end to end in an ${arch} TCG guest (${FULL.e2eToggles} toggles per path), doorbell mode`);
  guests.push(await endToEnd('doorbell', FULL.e2eToggles, 0, 'dist', arch));
}
const m = machine();
const text = [
  `## Partial run of ${m.date}: end to end only (npm run bench:e2e)`,
  '',
  `Commit \`${m.commit}\`; ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; Linux ${m.kernel}; Node.js ${m.node}; ${m.qemu}. The run took ${((Date.now() - started) / 1000).toFixed(0)} s; load average at its end ${m.load}.`,
  '',
  `Section 4 of a full run, ${FULL.e2eToggles} toggles per path, in an x86_64 guest and in an arm64 guest (\`qemu-system-aarch64 -M virt,gic-version=3 -cpu max,pauth-impdef=on\`, every instruction translated by TCG), the stand-in bridge of bench/stand-in-device.ts as a third path in each: latencies p50 / p99 in milliseconds, each ratio against the raw path in the same boot.`,
  '',
  ...endToEndRows(guests),
  '',
].join('\n');
writeResults(withPartialRun(readResults(), text));
process.stdout.write(text);
log('added to bench/RESULTS.md after the latest full run');
