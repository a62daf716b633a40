/** Reads and writes bench/RESULTS.md and bench/HISTORY.md; a missing file reads as empty. */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultsFiles } from './results-file.ts';

const RESULTS = join(import.meta.dirname, 'RESULTS.md');
const HISTORY = join(import.meta.dirname, 'HISTORY.md');

const read = (path: string): string => (existsSync(path) ? readFileSync(path, 'utf8') : '');

export function readResults(): ResultsFiles {
  return { results: read(RESULTS), history: read(HISTORY) };
}

/**
 * Writes both files, each through a temporary file and a rename, and
 * HISTORY.md first: a run interrupted between the two leaves the run it
 * moved in both files, never in neither.
 */
export function writeResults(files: ResultsFiles): void {
  for (const [path, text] of [
    [HISTORY, files.history],
    [RESULTS, files.results],
  ] as const) {
    writeFileSync(`${path}.tmp`, text);
    renameSync(`${path}.tmp`, path);
  }
}
