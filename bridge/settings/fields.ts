/**
 * Collects every problem of a configuration as `<option path>: got
 * <value>; allowed: <what is allowed>` instead of stopping at the first,
 * naming only the kind of a value that may be a secret.
 */
export class Problems {
  readonly list: string[] = [];

  add(path: string, value: unknown, allowed: string): void {
    this.list.push(`${path}: got ${show(value)}; allowed: ${allowed}`);
  }

  /** Like add, for a value that may be a secret: names its kind, never its contents. */
  addSecret(path: string, value: unknown, allowed: string): void {
    this.list.push(`${path}: got ${kindOf(value)} (value hidden); allowed: ${allowed}`);
  }
}

export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** What a value is, without what it says: "a number", "a mapping (username, password)". */
export function kindOf(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (typeof value === 'object') return `a mapping (${Object.keys(value).join(', ')})`;
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'true or false';
  return typeof value;
}

/** What a list option allows: a mapping there (a missing "- ") is the usual slip. */
export const MAPPING_NOT_LIST = 'a list (in YAML, one "- " entry per item)';
