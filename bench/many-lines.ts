/**
 * Stress mode for lost and invented edges with many lines at once, in a
 * real TCG guest through the real bridge (test/kernel/many-lines.ts): the
 * streams of test/kernel/many-lines.test.ts, repeated RUNS times on one
 * boot per vCPU count (1 and 2). Prints the Markdown rows for
 * bench/RESULTS.md and, with a failing run, its mismatches.
 *
 *   node --import tsx bench/many-lines.ts [RUNS]     (default 10)
 */
import process from 'node:process';
import { ManyLinesRig, STREAMS } from '../test/kernel/many-lines.ts';
import { machine } from './machine.ts';

const runs = Number(process.argv[2] ?? 10);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`RUNS must be a positive integer, got ${process.argv[2] ?? ''}`);

const m = machine();
const rows: string[] = [];
for (const cpus of [1, 2]) {
  const rig = await ManyLinesRig.start(cpus);
  try {
    let streams = 0;
    let bad = 0;
    let changes = 0;
    let lost = 0;
    let invented = 0;
    let refused = 0;
    for (let run = 1; run <= runs; run++) {
      for (const [name, options] of STREAMS) {
        const result = await rig.stream(options);
        streams += 1;
        changes += result.changes;
        lost += result.lost;
        invented += result.invented;
        refused += result.refused;
        if (result.mismatches.length > 0) {
          bad += 1;
          process.stderr.write(`-smp ${cpus} run ${run}, ${name}: ${result.lost} lost, ${result.invented} invented\n  ${result.mismatches.join('\n  ')}\n`);
        }
        process.stderr.write(`-smp ${cpus} run ${run}/${runs}, ${name}: ${result.changes} changes, ${result.lost} lost, ${result.invented} invented\n`);
      }
    }
    rows.push(`| \`-smp ${cpus}\` | ${streams} | ${bad} | ${changes} | ${refused} | **${lost}** | **${invented}** |`);
  } finally {
    await rig.close();
  }
}
process.stdout.write([
  `Commit \`${m.commit}\`, ${m.date}; ${m.qemu}; load average ${m.load}.`,
  '',
  '| guest | streams | bad streams | changes | refused | lost | invented |',
  '|---|---|---|---|---|---|---|',
  ...rows,
  '',
].join('\n'));
