/**
 * Builds the bridge's settings from, in rising precedence: built-in
 * defaults, a YAML or JSON file, `VGPIO2MQTT_*` environment variables and
 * command-line flags. Everything is checked before anything is started;
 * every problem is reported at once, each naming the option, the bad value
 * and what is allowed (ConfigError).
 */
import convict from 'convict';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { formats } from './formats.ts';
import { convictSchema, ENV_PREFIX, listOptions } from './schema.ts';
import { kindOf, Problems, show } from './fields.ts';
import { checkShape } from './shape.ts';
import { joinNegativeValues, unknownFlags } from './flags.ts';
import { readChips } from './chips.ts';
import { defaultRuntimeDir } from './runtime-dir.ts';
import { readUsers } from './users.ts';
import { relayable } from '../agent/relay.ts';
import type { LogLevel } from '../log.ts';
import type { Settings } from './types.ts';

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

/** The options as convict holds them once validated (schema.ts). */
interface RawOptions {
  base_topic: string;
  log_level: LogLevel;
  mqtt: {
    server: string;
    client_id: string;
    username: string;
    password: string;
    keepalive: number;
    qos: 0 | 1;
    reconnect_ms: number;
    ca: string | null;
    cert: string | null;
    key: string | null;
    reject_unauthorized: boolean;
  };
  broker: {
    host: string;
    port: number | null;
    ws_port: number | null;
    tls_port: number | null;
    tls_cert: string | null;
    tls_key: string | null;
    tls_ca: string | null;
    persistence_dir: string | null;
    max_packet_bytes: number;
    max_connections: number;
    max_publish_rate: number | null;
    max_client_output_bytes: number;
    users: unknown;
  };
  homeassistant: { enabled: boolean; discovery_prefix: string; status_topic: string; support_url: string | null };
  metrics: { host: string; port: number | null };
  web: { enabled: boolean; host: string; port: number; mqtt_url: string | null; allowed_origins: string[] };
  chips: unknown;
}

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
  const o = conf.getProperties() as unknown as RawOptions;
  const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
  const chips = readChips(list(o.chips), defaultRuntimeDir(env, process.geteuid?.() ?? 0), problems);
  const users = readUsers(list(o.broker.users), problems);
  if (o.broker.tls_port !== null && (o.broker.tls_cert === null || o.broker.tls_key === null)) {
    problems.list.push('broker.tls_port: got a port without broker.tls_cert and broker.tls_key; allowed: null, or a port with both files set');
  }
  if (o.mqtt.server !== 'embedded' && !relayable(o.mqtt.server)) {
    chips.forEach((chip, index) => {
      if (chip.agentSocket !== null) {
        problems.add(`chips[${index}].agent_socket`, chip.agentSocket, `null while mqtt.server is a WebSocket URL (agent connections are relayed to mqtt://, mqtts:// or unix:// brokers, or served by the embedded one)`);
      }
    });
  }
  if (problems.list.length > 0) throw new ConfigError(problems.list);

  return {
    file: file ?? null,
    baseTopic: o.base_topic,
    logLevel: o.log_level,
    mqtt: {
      server: o.mqtt.server,
      clientId: o.mqtt.client_id,
      username: o.mqtt.username,
      password: o.mqtt.password,
      keepalive: o.mqtt.keepalive,
      qos: o.mqtt.qos,
      reconnectMs: o.mqtt.reconnect_ms,
      ca: o.mqtt.ca,
      cert: o.mqtt.cert,
      key: o.mqtt.key,
      rejectUnauthorized: o.mqtt.reject_unauthorized,
    },
    broker: {
      host: o.broker.host,
      port: o.broker.port,
      wsPort: o.broker.ws_port,
      tlsPort: o.broker.tls_port,
      tlsCert: o.broker.tls_cert,
      tlsKey: o.broker.tls_key,
      tlsCa: o.broker.tls_ca,
      persistenceDir: o.broker.persistence_dir,
      limits: { maxPacketBytes: o.broker.max_packet_bytes, maxConnections: o.broker.max_connections, publishRate: o.broker.max_publish_rate, maxClientOutputBytes: o.broker.max_client_output_bytes },
      users,
    },
    homeassistant: {
      enabled: o.homeassistant.enabled,
      discoveryPrefix: o.homeassistant.discovery_prefix,
      statusTopic: o.homeassistant.status_topic,
      supportUrl: o.homeassistant.support_url,
    },
    metrics: { host: o.metrics.host, port: o.metrics.port },
    web: { enabled: o.web.enabled, host: o.web.host, port: o.web.port, mqttUrl: o.web.mqtt_url, allowedOrigins: o.web.allowed_origins },
    chips,
  };
}

/** The option table for --help: path, flag, environment variable, default, documentation. */
export function optionsHelp(): string {
  const lines: string[] = [];
  for (const o of listOptions()) {
    const where = o.fileOnly ? 'file only' : `--${o.arg ?? ''}, ${o.env ?? ''}`;
    lines.push(`  ${o.path}  (${where})`);
    lines.push(`      ${o.doc}`);
    lines.push(`      default: ${o.sensitive === true ? '(none)' : JSON.stringify(o.default)}`);
  }
  return lines.join('\n');
}
