/**
 * Checks the shape of a configuration file before convict reads it. Convict
 * merges a mapping given for a list option (`broker: {users: {username: ha,
 * ...}}`) into the empty default list as properties, so the mistake would
 * pass unnoticed and start an open broker; and a value that is not a
 * mapping where a group of options belongs (`broker: 5`) makes it print one
 * line of its internals per option. Each such value is reported once (never
 * echoing a secret) and removed, so convict checks the rest.
 */
import { kindOf, MAPPING_NOT_LIST, type Problems } from './fields.ts';
import { listOptions } from './schema.ts';

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Removes and reports every value of the wrong shape in `data` (the parsed file), in place. */
export function checkShape(data: Record<string, unknown>, problems: Problems): void {
  const options = listOptions();
  const leaves = new Map(options.map((o) => [o.path, o]));
  const groups = new Map<string, string[]>();
  for (const o of options) {
    const parts = o.path.split('.');
    for (let i = 1; i < parts.length; i++) {
      const group = parts.slice(0, i).join('.');
      const child = parts[i] ?? '';
      const children = groups.get(group) ?? [];
      if (!children.includes(child)) children.push(child);
      groups.set(group, children);
    }
  }
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [key, value] of Object.entries(node)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      const children = groups.get(path);
      const leaf = leaves.get(path);
      if (children !== undefined) {
        // `broker:` with every option commented out is YAML's null: nothing set.
        if (value === null) Reflect.deleteProperty(node, key);
        else if (!isMapping(value)) {
          problems.list.push(`${path}: got ${kindOf(value)}; allowed: a mapping of ${path}.* options (${children.join(', ')})`);
          Reflect.deleteProperty(node, key);
        } else walk(value, path);
      } else if (leaf !== undefined && isMapping(value)) {
        const allowed = leaf.format === 'list' ? MAPPING_NOT_LIST : `a single value, not a mapping (see vgpio2mqtt --help for ${path})`;
        problems.list.push(`${path}: got ${kindOf(value)}; allowed: ${allowed}`);
        Reflect.deleteProperty(node, key);
      }
    }
  };
  walk(data, '');
}
