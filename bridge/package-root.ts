/** The folder of vgpio2mqtt's package.json, found by walking up: the same from the sources (tsx) and from dist/. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface PackageInfo {
  root: string;
  version: string;
}

export function findPackage(from: string = import.meta.dirname): PackageInfo | undefined {
  let dir = from;
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'vgpio2mqtt') return { root: dir, version: typeof pkg.version === 'string' ? pkg.version : 'unknown' };
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
