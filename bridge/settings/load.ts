/**
 * Builds the bridge's settings from, in rising precedence: built-in
 * defaults, a YAML or JSON file, `VGPIO2MQTT_*` environment variables and
 * command-line flags. Everything is checked before anything is started;
 * every problem is reported at once, each naming the option, the bad value
 * and what is allowed (ConfigError).
 */
import { describeServer } from '../mqtt/server.ts';
import convict from 'convict';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { formats } from './formats.ts';
import { camelCase, convictSchema, ENV_PREFIX, isLeaf, listOptions, schema, type GroupSpec } from './schema.ts';
import { kindOf, Problems, show } from './fields.ts';
import { checkShape } from './shape.ts';
import { joinNegativeValues, unknownFlags } from './flags.ts';
import { readChips } from './chips.ts';
import { defaultRuntimeDir } from './runtime-dir.ts';
import { readUsers } from './users.ts';
import { readWires } from './wires.ts';
import { settingsRules } from './rules.ts';
import type { Settings } from './types.ts';

export { optionsHelp } from './help.ts';

convict.addFormats(formats);

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

export const CONFIG_ENV = `${ENV_PREFIX}CONFIG`;

export interface LoadInput {
  /** Command-line words after the command (flags only). */
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

/** Reads a YAML (.yaml, .yml) or JSON (.json) configuration file into a plain object. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`config file ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  const ext = extname(path).toLowerCase();
  let data: unknown;
  try {
    data = ext === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new ConfigError([`config file ${path}: not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message.split('\n')[0] ?? ''}`]);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([`config file ${path}: got ${show(data)}; allowed: a mapping of options (see vgpio2mqtt --help)`]);
  }
  return data as Record<string, unknown>;
}

/** Splits the flags into the config file path and option values (dotted paths); unknown flags are problems. */
export function flagSpec(): Record<string, { type: 'string'; short?: string }> {
  const spec: Record<string, { type: 'string'; short?: string }> = { config: { type: 'string', short: 'c' } };
  for (const o of listOptions()) if (o.arg !== undefined) spec[o.arg] = { type: 'string' };
  return spec;
}

function parseFlags(words: readonly string[], problems: Problems): { file: string | undefined; values: Map<string, string> } {
  const options = listOptions().filter((o) => o.arg !== undefined);
  const spec = flagSpec();
  const values = new Map<string, string>();
  const args = joinNegativeValues(words, spec);
  const unknown = unknownFlags(args, spec);
  if (unknown.length > 0) {
    problems.list.push(...unknown.map((message) => `command line: ${message}; see vgpio2mqtt --help`));
    return { file: undefined, values };
  }
  try {
    const { values: parsed } = parseArgs({ args, options: spec, strict: true, allowPositionals: false });
    for (const o of options) {
      const v = o.arg === undefined ? undefined : parsed[o.arg];
      if (typeof v === 'string') values.set(o.path, v);
    }
    const file = parsed.config;
    return { file: typeof file === 'string' ? file : undefined, values };
  } catch (error) {
    problems.list.push(`command line: ${(error as Error).message.split('\n')[0] ?? ''}; see vgpio2mqtt --help`);
    return { file: undefined, values };
  }
}

/** mqtt.server's value as an error may show it: each URL without its user and password. */
function serversShown(value: unknown): unknown {
  if (typeof value === 'string') return value.split(',').map((url) => describeServer(url.trim())).join(',');
  if (Array.isArray(value)) return (value as unknown[]).map((url) => (typeof url === 'string' ? describeServer(url) : url));
  return value;
}

/** Turns convict's `name: message: value was V` lines into ours. */
function convictProblems(error: Error, conf: convict.Config<unknown>): string[] {
  const sensitive = new Set(listOptions().filter((o) => o.sensitive === true).map((o) => o.path));
  return error.message.split('\n').map((line) => {
    const undeclared = /configuration param '(.*)' not declared in the schema/.exec(line);
    if (undeclared?.[1] !== undefined) {
      return `${undeclared[1]}: unknown option; allowed: the options listed by vgpio2mqtt --help`;
    }
    const match = /^([^:]+): (.*?)(?:: value was (.*))?$/.exec(line);
    if (match?.[1] === undefined) return line;
    const name = match[1];
    const allowed = (match[2] ?? '').replace(/^allowed: /, '');
    let value: string;
    const current = (): unknown => (conf as convict.Config<Record<string, unknown>>).get(name as never);
    if (sensitive.has(name)) value = `${kindOf(current())} (value hidden)`;
    // A broker URL may carry a login (mqtt://user:password@host): shown without it.
    else if (name === 'mqtt.server') value = JSON.stringify(serversShown(current()));
    else if (match[3] !== undefined) value = match[3];
    else value = show(current());
    return `${name}: got ${value}; allowed: ${allowed}`;
  });
}

export function loadSettings(input: LoadInput = {}): Settings {
  const env = input.env ?? process.env;
  const problems = new Problems();
  const flags = parseFlags(input.args ?? [], problems);

  const known = new Set([CONFIG_ENV, ...listOptions().flatMap((o) => (o.env === undefined ? [] : [o.env]))]);
  for (const name of Object.keys(env)) {
    if (name.startsWith(ENV_PREFIX) && !known.has(name)) {
      problems.list.push(`${name}: unknown environment variable; allowed: ${CONFIG_ENV} and the variables listed by vgpio2mqtt --help`);
    }
  }

  const file = flags.file ?? (env[CONFIG_ENV] === '' ? undefined : env[CONFIG_ENV]);
  const data = file === undefined ? {} : readConfigFile(file);
  checkShape(data, problems);

  const conf = convict(convictSchema() as convict.Schema<Record<string, unknown>>, { env, args: [] });
  conf.load(data);
  for (const [path, value] of flags.values) conf.set(path as never, value as never);
  try {
    conf.validate({ allowed: 'strict' });
  } catch (error) {
    problems.list.push(...convictProblems(error as Error, conf as convict.Config<unknown>));
  }

  // Validated above (or the problems are thrown below before anything uses them).
  const options = camelCased(schema, conf.getProperties()) as Omit<Settings, 'file'>;
  const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
  const chips = readChips(list(options.chips), defaultRuntimeDir(env, process.geteuid?.() ?? 0), problems);
  const settings: Settings = {
    ...options,
    broker: { ...options.broker, users: readUsers(list(options.broker.users), problems) },
    chips,
    wires: readWires(list(options.wires), chips, problems),
    file: file ?? null,
  };
  for (const rule of Object.values(settingsRules)) rule(settings, problems);
  if (problems.list.length > 0) throw new ConfigError(problems.list);
  return settings;
}

/** Convict's snake_case properties under the camelCase keys config/types.ts derives from the same schema. */
function camelCased(group: GroupSpec, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(group)) {
    out[camelCase(key)] = isLeaf(spec) ? values[key] : camelCased(spec, values[key] as Record<string, unknown>);
  }
  return out;
}
