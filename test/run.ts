/**
 * Runs the test suite: every `*.test.ts` below test/ (or the files given as
 * arguments), one file at a time (QEMU guests are heavy and the machine has
 * two cores), through node:test with our reporter.
 */
import { run } from 'node:test';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import reporter from './support/reporter.ts';

function findTests(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findTests(path));
    else if (entry.name.endsWith('.test.ts')) found.push(path);
  }
  return found.sort();
}

const args = process.argv.slice(2);
const files = args.length > 0 ? args.map((f) => resolve(f)) : findTests(resolve(import.meta.dirname));

let failed = false;
const stream = run({ files, concurrency: 1 });
stream.on('test:fail', () => {
  failed = true;
});
stream.compose(reporter).pipe(process.stdout);
stream.once('end', () => {
  if (failed) process.exitCode = 1;
});
