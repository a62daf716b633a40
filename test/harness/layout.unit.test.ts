/**
 * The layout rules of the tests: nothing outside test/ reaches into test/
 * (the shared kit is testkit/), and a unit test (`*.unit.test.ts`, run by
 * `npm run test:unit`) starts no process and no guest.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../../testkit/paths.ts';

const SKIP = new Set(['node_modules', 'dist', 'build', '.git', '.cache', 'test-artifacts']);

function filesUnder(dir: string, keep: (name: string) => boolean): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(path, keep));
    else if (keep(entry.name)) found.push(path);
  }
  return found;
}

/** Module specifiers a TypeScript file imports (static and dynamic). */
function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1] ?? '');
}

describe('test layout', () => {
  it('has no file outside test/ that imports from test/ or runs a file in it', () => {
    const outside = readdirSync(repoRoot, { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name !== 'test' && !SKIP.has(e.name))
      .flatMap((e) => filesUnder(join(repoRoot, e.name), (name) => /\.(ts|js|py|sh)$/.test(name)));
    assert.ok(outside.length > 50, `only ${outside.length} files found outside test/`);
    const offenders = outside.filter((file) => {
      const text = readFileSync(file, 'utf8');
      return importsOf(text).some((s) => /^(\.\.\/)+test\//.test(s)) || /['"]test\/[\w/.-]+\.ts['"]/.test(text);
    });
    assert.deepEqual(offenders.map((f) => relative(repoRoot, f)), []);
  });

  it('has unit tests that start no child process, broker process, browser or guest', () => {
    const units = filesUnder(join(repoRoot, 'test'), (name) => name.endsWith('.unit.test.ts'));
    assert.ok(units.length > 20, `only ${units.length} unit test files`);
    const forbidden = /^node:child_process$|testkit\/(guest|mosquitto|rabbitmq|browser|capture-cli|vgpio-host|many-lines|agent|build-module)\.ts$|^puppeteer/;
    const offenders = units.flatMap((file) =>
      importsOf(readFileSync(file, 'utf8'))
        .filter((s) => forbidden.test(s))
        .map((s) => `${relative(repoRoot, file)} imports ${s}`),
    );
    assert.deepEqual(offenders, []);
  });
});
