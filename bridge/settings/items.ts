/**
 * Checks one item of a list option (a chip, a line) against the fields
 * the schema gives for it (`items` in config/schema.ts), then against the
 * item's named rules. Every problem is reported with its path
 * (`chips[0].lines[2].name`), the bad value and what is allowed; a field
 * that fails its format takes its default, so the rules can still look at
 * the others.
 *
 * Why not a convict instance per item: convict reports one error string
 * for a whole instance, stops at nothing per field and knows no fallback;
 * here every field is checked by the same convict formats (formats.ts),
 * and the rules get the values to work on.
 */
import type { Problems } from './fields.ts';
import { formats } from './formats.ts';
import { camelCase, isLeaf, type GroupSpec } from './schema.ts';

/** Where a rule reports, and what it may ask of the raw item. */
export class Item {
  readonly #raw: Record<string, unknown>;
  readonly #failed = new Set<string>();
  readonly #secret: boolean;
  readonly path: string;
  readonly problems: Problems;

  /** secret: the item may hold secrets (a login), so no problem about it shows a value. */
  constructor(raw: Record<string, unknown>, path: string, problems: Problems, secret: boolean) {
    this.#raw = raw;
    this.path = path;
    this.problems = problems;
    this.#secret = secret;
  }

  at(key: string): string {
    return `${this.path}.${key}`;
  }

  /** Whether the file sets `key` (null counts as unset). */
  has(key: string): boolean {
    return this.#raw[key] !== undefined && this.#raw[key] !== null;
  }

  raw(key: string): unknown {
    return this.#raw[key];
  }

  /** Whether `key` failed its format (and so holds its default). */
  failed(key: string): boolean {
    return this.#failed.has(key);
  }

  report(key: string, value: unknown, allowed: string): void {
    this.#failed.add(key);
    if (this.#secret) this.problems.addSecret(this.at(key), value, allowed);
    else this.problems.add(this.at(key), value, allowed);
  }
}

/** A check of one item that one field cannot make alone; it may fill in computed defaults. */
export type ItemRule<T, C> = (item: T, at: Item, context: C) => void;

/**
 * Reads `raw` as an item with `fields`, then runs `rules` in order; unknown
 * keys are reported last, without their values. Returns undefined when any
 * problem was found. The item has the camelCase keys config/types.ts
 * derives from the same fields; a list field holds its raw items until a
 * rule reads them.
 */
export function readItem<T, C>(
  fields: GroupSpec,
  rules: Record<string, ItemRule<T, C>>,
  raw: unknown,
  path: string,
  context: C,
  problems: Problems,
  secret = false,
): T | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    if (secret) problems.addSecret(path, raw, 'an object (key: value pairs)');
    else problems.add(path, raw, 'an object (key: value pairs)');
    return undefined;
  }
  const before = problems.list.length;
  const object = raw as Record<string, unknown>;
  const at = new Item(object, path, problems, secret);
  const item: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(fields)) {
    if (!isLeaf(spec)) throw new Error(`${path}.${key}: list items have no groups`);
    const format = formats[spec.format];
    let value: unknown = spec.default;
    if (at.has(key)) {
      try {
        format.validate(object[key], spec);
        value = object[key];
      } catch (error) {
        at.report(key, object[key], (error as Error).message.replace(/^allowed: /, ''));
      }
    }
    item[camelCase(key)] = value !== null && format.parse !== undefined ? format.parse(value as never) : value;
  }
  for (const rule of Object.values(rules)) rule(item as T, at, context);
  const unknown = Object.keys(object).filter((key) => !Object.hasOwn(fields, key));
  for (const key of unknown) problems.list.push(`${at.at(key)}: unknown option; allowed: ${Object.keys(fields).join(', ')}`);
  return problems.list.length === before ? (item as T) : undefined;
}
