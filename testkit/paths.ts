/** Where the repository and scripts/setup.sh's cache are (VGPIO_CACHE overrides the cache). */
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..');
export const cacheDir = process.env.VGPIO_CACHE ?? join(repoRoot, '.cache');
