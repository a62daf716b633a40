/** The option table of `vgpio2mqtt --help`, from the schema (config/schema.ts). */
import { formats } from './formats.ts';
import { listOptions, type OptionInfo } from './schema.ts';

/** The default as the reader should see it: words where a rule computes it, nothing for a secret (a list of secrets: its empty default). */
export function defaultOf(o: OptionInfo): string {
  if (o.sensitive === true && o.format !== 'list') return '(none)';
  return o.defaultText ?? JSON.stringify(o.default);
}

/** What the option's format allows, in a few words. */
export function typeOf(o: OptionInfo): string {
  const { type } = formats[o.format];
  const text = typeof type === 'string' ? type : type(o);
  return o.nullable === true && !text.includes('null') ? `${text}, or null` : text;
}

/** Path, flag, environment variable, default and documentation of every option, list items' fields included. */
export function optionsHelp(): string {
  const lines: string[] = [];
  for (const o of listOptions(undefined, '', { items: true })) {
    const where = o.fileOnly ? 'file only' : `--${o.arg ?? ''}, ${o.env ?? ''}`;
    lines.push(`  ${o.path}  (${where})`);
    lines.push(`      ${o.doc}`);
    lines.push(`      ${typeOf(o)}; default: ${defaultOf(o)}`);
  }
  return lines.join('\n');
}
