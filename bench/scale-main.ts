/**
 * `npm run bench:scale`: only the many-chips and one-shot rows
 * (bench/scale.ts), printed as the section `npm run bench` adds to its run;
 * RESULTS.md is left alone.
 */
import { FULL_SCALE, scaleBench, scaleReport } from './scale.ts';

const results = await scaleBench(FULL_SCALE, 'dist', (line) => process.stderr.write(`bench: ${line}\n`));
process.stdout.write(scaleReport(results));
