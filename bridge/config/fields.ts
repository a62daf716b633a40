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
}

export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export class Fields {
  readonly #object: Record<string, unknown>;
  readonly #path: string;
  readonly #problems: Problems;
  readonly #known = new Set<string>();
  readonly valid: boolean;

  constructor(value: unknown, path: string, problems: Problems) {
    this.#path = path;
    this.#problems = problems;
    this.valid = typeof value === 'object' && value !== null && !Array.isArray(value);
    this.#object = this.valid ? (value as Record<string, unknown>) : {};
    if (!this.valid) problems.add(path, value, 'an object (key: value pairs)');
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
    this.#problems.add(this.path(key), value, allowed);
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
    return this.#take<unknown[]>(key, [], (v) => Array.isArray(v), 'a list');
  }

  /** Reports every key nobody asked for. Call last. */
  rejectUnknown(): void {
    for (const key of Object.keys(this.#object)) {
      if (!this.#known.has(key)) this.#problems.add(this.path(key), this.#object[key], `no such option; known: ${[...this.#known].join(', ')}`);
    }
  }
}
