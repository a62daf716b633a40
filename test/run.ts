/**
 * Runs the test suite: every `*.test.ts` below test/ (or the files given as
 * arguments), one file at a time (QEMU guests are heavy and the machine has
 * two cores), through node:test with our reporter.
 *
 * `--unit` runs only the unit tests, `*.unit.test.ts`: no broker process,
 * no guest, no child process, each file under a second. They share nothing,
 * so they run as many at a time as there are cores.
 *
 * A file gets FILE_TIMEOUT_MS: past it, node:test kills the file's process
 * (reap-children.ts then kills what it started) and the run goes on, so a
 * hang costs minutes, not the whole CI budget.
 */
import './support/reap-children.ts';
import { run } from 'node:test';
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import reporter from './support/reporter.ts';

function findTests(dir: string, suffix: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findTests(path, suffix));
    else if (entry.name.endsWith(suffix)) found.push(path);
  }
  return found.sort();
}

const args = process.argv.slice(2);
const unit = args[0] === '--unit';
const root = resolve(import.meta.dirname);
let files: string[];
if (unit) {
  if (args.length > 1) throw new Error('--unit takes no files: it runs every *.unit.test.ts');
  files = findTests(root, '.unit.test.ts');
} else {
  files = args.length > 0 ? args.map((f) => resolve(f)) : findTests(root, '.test.ts');
}

/** The longest file takes about 70 s here: a file past this is hung. VGPIO_TEST_FILE_TIMEOUT_MS changes it (test/support/reap-children.test.ts). */
const FILE_TIMEOUT_MS = Number(process.env.VGPIO_TEST_FILE_TIMEOUT_MS ?? 8 * 60_000);

// Each test file's process inherits the runner's execArgv (after tsx's --import): load the reaper there too.
process.execArgv.push('--import', fileURLToPath(new URL('./support/reap-children.ts', import.meta.url)));

let failed = false;
const stream = run({ files, concurrency: unit ? availableParallelism() : 1, timeout: FILE_TIMEOUT_MS });
stream.on('test:fail', () => {
  failed = true;
});
stream.compose(reporter).pipe(process.stdout);
stream.once('end', () => {
  if (failed) process.exitCode = 1;
});
