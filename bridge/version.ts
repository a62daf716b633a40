/** The package version, read from package.json (found from the source tree and from dist/ alike). */
import { findPackage } from './package-root.ts';

export const VERSION = findPackage()?.version ?? 'unknown';
