/** Where the built web page is: `dist/web/` of this package (npm run build writes it), from the sources and from dist/ alike. */
import { join } from 'node:path';
import { findPackage } from '../package-root.ts';

export function webAssetsDir(): string {
  const found = findPackage();
  if (found === undefined) throw new Error(`no vgpio2mqtt package.json above ${import.meta.dirname}`);
  return join(found.root, 'dist', 'web');
}
