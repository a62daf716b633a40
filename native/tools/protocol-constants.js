// Build step (run by binding.gyp): writes one `VGPIO_CONSTANT(NAME)` line for
// every object-like macro with a value in kernel/vgpio_shm.h, so the addon
// exports exactly what the header defines. Only names are extracted here;
// the C++ compiler evaluates the values.
import { readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';

const [header, output] = process.argv.slice(2);
if (header === undefined || output === undefined) {
  process.stderr.write('usage: node protocol-constants.js <vgpio_shm.h> <output.inc>\n');
  process.exit(2);
}

// `#define VGPIO_NAME value`: a name directly followed by "(" is function-like.
const define = /^#define\s+VGPIO_(\w+)(?!\w|\()[ \t]+\S/gm;
const names = [...readFileSync(header, 'utf8').matchAll(define)].map((m) => m[1]);
const skip = new Set(['STATIC_ASSERT']);
const lines = names.filter((name) => !skip.has(name)).map((name) => `VGPIO_CONSTANT(${name})`);
if (lines.length === 0) {
  process.stderr.write(`no VGPIO_ constants found in ${header}\n`);
  process.exit(1);
}
writeFileSync(output, `// Generated from ${header} by protocol-constants.js; do not edit.\n${lines.join('\n')}\n`);
