/**
 * Where the built web page is: `dist/web/` of this package, found by
 * walking up to its package.json, so the bridge run from the sources (tsx)
 * and from dist/ serves the same files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function packageRoot(from: string = import.meta.dirname): string {
  let dir = from;
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'vgpio2mqtt') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no vgpio2mqtt package.json above ${from}`);
    dir = parent;
  }
}

export function webAssetsDir(): string {
  return join(packageRoot(), 'dist', 'web');
}
