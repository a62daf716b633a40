/**
 * A fresh folder for the tests of one describe block: made when the block
 * is collected, removed after its last test. For blocks whose only shared
 * set-up is that folder (a block that closes servers or guests living in it
 * removes it itself, after them: node:test runs `after` hooks in the order
 * they were registered).
 */
import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Call inside a describe block; `prefix` names the folder: <tmpdir>/<prefix>XXXXXX. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}
