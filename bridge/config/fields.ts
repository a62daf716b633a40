/**
 * Reads one object of a configuration file (a chip, a line, a broker
 * user) field by field, collecting every problem as
 * `<option path>: got <value>; allowed: <what is allowed>` instead of
 * stopping at the first, and refusing keys it does not know.
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

export class Fields {
  readonly #object: Record<string, unknown>;
  readonly #path: string;
  readonly #problems: Problems;
  readonly #known = new Set<string>();
  readonly #secret: boolean;
  readonly valid: boolean;

  /** secret: the object may hold secrets (a login), so no problem about it shows a value. */
  constructor(value: unknown, path: string, problems: Problems, secret = false) {
    this.#path = path;
    this.#problems = problems;
    this.#secret = secret;
    this.valid = typeof value === 'object' && value !== null && !Array.isArray(value);
    this.#object = this.valid ? (value as Record<string, unknown>) : {};
    if (!this.valid) this.#add(path, value, 'an object (key: value pairs)');
  }

  #add(path: string, value: unknown, allowed: string): void {
    if (this.#secret) this.#problems.addSecret(path, value, allowed);
    else this.#problems.add(path, value, allowed);
  }

  path(key: string): string {
    return `${this.#path}.${key}`;
  }

  has(key: string): boolean {
    return this.#object[key] !== undefined && this.#object[key] !== null;
  }

  raw(key: string): unknown {
    this.#known.add(key);
    return this.#object[key];
  }

  #take<T>(key: string, fallback: T, ok: (v: unknown) => boolean, allowed: string): T {
    const value = this.raw(key);
    if (value === undefined || value === null) return fallback;
    if (ok(value)) return value as T;
    this.#add(this.path(key), value, allowed);
    return fallback;
  }

  string(key: string, fallback: string, allowed = 'a string'): string {
    return this.#take(key, fallback, (v) => typeof v === 'string', allowed);
  }

  optionalString(key: string): string | null {
    return this.#take<string | null>(key, null, (v) => typeof v === 'string' && v !== '', 'a non-empty string');
  }

  oneOf<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    return this.#take(key, fallback, (v) => choices.includes(v as T), choices.join(', '));
  }

  boolean(key: string, fallback: boolean): boolean {
    return this.#take(key, fallback, (v) => typeof v === 'boolean', 'true or false');
  }

  integer(key: string, fallback: number, min: number, max: number): number {
    return this.#take(key, fallback, (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max, `an integer ${min}..${max}`);
  }

  optionalInteger(key: string, min: number, max: number): number | null {
    return this.#take<number | null>(key, null, (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max, `an integer ${min}..${max} or null`);
  }

  list(key: string): unknown[] {
    return this.#take<unknown[]>(key, [], (v) => Array.isArray(v), MAPPING_NOT_LIST);
  }

  /** Reports every key nobody asked for, without its value (a misspelt `pasword:` holds a password). Call last. */
  rejectUnknown(): void {
    for (const key of Object.keys(this.#object)) {
      if (!this.#known.has(key)) this.#problems.list.push(`${this.path(key)}: unknown option; allowed: ${[...this.#known].join(', ')}`);
    }
  }
}
