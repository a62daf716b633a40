/**
 * The option reference of docs/configuration.md, generated from the schema
 * (config/schema.ts) by `npm run docs:config` (scripts/gen-config-docs.ts)
 * between two marker comments; test/bridge/config-schema.unit.test.ts fails
 * when the committed file differs, so an option cannot skip the docs.
 */
import { defaultOf, typeOf } from './help.ts';
import { listOptions, schema, type GroupSpec, type OptionInfo } from './schema.ts';

export const BEGIN = '<!-- BEGIN GENERATED: option reference. Edit bridge/settings/schema.ts, then run `npm run docs:config`. -->';
export const END = '<!-- END GENERATED: option reference -->';

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (text: string): string => `\`${text}\``;
const meaning = (o: OptionInfo): string => cell(o.more === undefined ? o.doc : `${o.doc} ${o.more}`);
const shownDefault = (o: OptionInfo): string => cell(o.defaultText ?? code(defaultOf(o)));

function itemTable(fields: GroupSpec, prefix: string): string[] {
  const rows = listOptions(fields, prefix).map((o) => `| ${code(o.path.slice(prefix.length + 1))} | ${cell(typeOf(o))} | ${shownDefault(o)} | ${meaning(o)} |`);
  return ['| key | allowed | default | meaning |', '|---|---|---|---|', ...rows];
}

/** The Markdown between BEGIN and END, markers excluded. */
export function configReference(): string {
  const top = listOptions().map((o) => {
    const where = o.fileOnly ? 'file only' : `${code(`--${o.arg ?? ''}`)}, ${code(o.env ?? '')}`;
    return `| ${code(o.path)} | ${where} | ${cell(typeOf(o))} | ${shownDefault(o)} | ${meaning(o)} |`;
  });
  return [
    '## Options',
    '',
    '| option | flag, variable | allowed | default | meaning |',
    '|---|---|---|---|---|',
    ...top,
    '',
    'Each login of `broker.users` (`broker.users[]`, see [Broker users](#broker-users)):',
    '',
    ...itemTable(schema.broker.users.items, 'broker.users[]'),
    '',
    '## Chips',
    '',
    '`chips` is a list; each entry (`chips[]`) is one virtual gpiochip a guest sees.',
    '',
    ...itemTable(schema.chips.items, 'chips[]'),
    '',
    '### Lines',
    '',
    '`lines` of a chip is a list too (`chips[].lines[]`):',
    '',
    ...itemTable(schema.chips.items.lines.items, 'chips[].lines[]'),
    '',
    '## Wires',
    '',
    '`wires` is a list; each entry (`wires[]`, see [signals](signals.md#wires)) connects an output line to input lines:',
    '',
    ...itemTable(schema.wires.items, 'wires[]'),
  ].join('\n');
}

/** `doc` with the text between the markers replaced by the reference; throws if a marker is missing. */
export function withReference(doc: string): string {
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`docs/configuration.md lacks the markers ${BEGIN} ... ${END}`);
  return `${doc.slice(0, begin + BEGIN.length)}\n\n${configReference()}\n\n${doc.slice(end)}`;
}
