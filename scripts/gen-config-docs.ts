/** Writes the option reference of docs/configuration.md from the schema (bridge/settings/reference.ts). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withReference } from '../bridge/settings/reference.ts';

const path = join(import.meta.dirname, '../docs/configuration.md');
const before = readFileSync(path, 'utf8');
const after = withReference(before);
writeFileSync(path, after);
console.log(before === after ? `${path}: up to date` : `${path}: option reference rewritten`);
