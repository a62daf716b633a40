/**
 * Builds the web view into dist/web/ (part of `npm run build` and of
 * `npm ci` through `prepare`): web/main.ts and what it imports (mqtt.js's
 * browser build among them) bundled by esbuild into one app.js, plus the
 * HTML and CSS copied as they are. The bridge serves these files; it never
 * builds anything at run time.
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const out = join(root, 'dist', 'web');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, 'web', 'main.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  outfile: join(out, 'app.js'),
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css']) copyFileSync(join(root, 'web', file), join(out, file));
