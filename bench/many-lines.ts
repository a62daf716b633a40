/**
 * Stress mode for lost and invented edges with many lines at once, in a
 * real TCG guest through the real bridge (testkit/many-lines.ts): the
 * streams of test/kernel/many-lines.test.ts, repeated RUNS times on one
 * boot per guest of the test (x86_64 with 1 and 2 vCPUs, arm64 with 2, on
 * QEMU 7.2; x86_64 with 2 on QEMU 10.0), or
 * only the guests of architecture ARCH. Prints the Markdown rows for the
 * bench's results (bench/HISTORY.md has the runs so far) and, with a
 * failing run, its mismatches.
 *
 *   node --import tsx bench/many-lines.ts [RUNS [ARCH]]     (default 10, all)
 */
import process from 'node:process';
import { parseGuestArch } from '../testkit/arch.ts';
import { GUESTS, ManyLinesRig, STREAMS } from '../testkit/many-lines.ts';
import { machine } from './machine.ts';

const runs = Number(process.argv[2] ?? 10);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`RUNS must be a positive integer, got ${process.argv[2] ?? ''}`);

const only = process.argv[3] === undefined ? undefined : parseGuestArch(process.argv[3]);

const m = machine();
const rows: string[] = [];
for (const { arch, cpus, qemu } of GUESTS.filter((g) => only === undefined || g.arch === only)) {
  const rig = await ManyLinesRig.start(cpus, arch, undefined, qemu);
  // The rows of QEMU 7.2 read as they always did; another QEMU is named.
  const guest = `${arch} -smp ${cpus}${qemu === '7.2' ? '' : `, QEMU ${qemu}`}`;
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
          process.stderr.write(`${guest} run ${run}, ${name}: ${result.lost} lost, ${result.invented} invented\n  ${result.mismatches.join('\n  ')}\n`);
        }
        process.stderr.write(`${guest} run ${run}/${runs}, ${name}: ${result.changes} changes, ${result.lost} lost, ${result.invented} invented\n`);
      }
    }
    rows.push(`| ${arch} \`-smp ${cpus}\`${qemu === '7.2' ? '' : ` QEMU ${qemu}`} | ${streams} | ${bad} | ${changes} | ${refused} | **${lost}** | **${invented}** |`);
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
