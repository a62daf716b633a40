/**
 * `npm run bench`: the full benchmark run (about four minutes on two
 * cores, and three more for the web view's rows, bench/web.ts), appended
 * to bench/RESULTS.md. Run it on an idle machine; the figures are only
 * comparable within one run.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { report } from './report.ts';
import { FULL, runBench } from './run.ts';
import { webBench, webReport } from './web.ts';

const RESULTS = join(import.meta.dirname, 'RESULTS.md');
const HEADER = `# Benchmark results

Appended by \`npm run bench\` (bench/main.ts), newest last. Every ratio is
against a baseline measured in the same run on the same machine.

`;

const log = (line: string): void => {
  process.stderr.write(`bench: ${line}\n`);
};

const results = await runBench({ counts: FULL, build: 'dist', log });
const text = report(results) + webReport(await webBench('dist', log));
if (!existsSync(RESULTS)) writeFileSync(RESULTS, HEADER);
appendFileSync(RESULTS, `${text}\n`);
process.stdout.write(text);
log(`appended to ${RESULTS}`);
