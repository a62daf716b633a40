/**
 * Formats of the bridge's options: what a value may be, in words (`type`,
 * shown in --help and docs/configuration.md) and as a check. Each check
 * throws a message saying what is allowed; config/load.ts and
 * config/items.ts add the option's name and the bad value. Values from the
 * environment and the command line arrive as strings, so every format of a
 * top-level option has a `coerce` that turns such a string into its type.
 * `FormatTypes` gives each format's TypeScript type, from which
 * config/types.ts derives the Settings.
 */
import type convict from 'convict';
import type { LogLevel } from '../log.ts';
import { isOrigin } from '../../broker/origin-guard.ts';
import { isValidTopicPath, nameProblem, RESERVED_CHIP_NAMES, RESERVED_LINE_NAMES } from '../mqtt/topics.ts';
import { isValidFilter } from '../../broker/topic-filter.ts';
import { protocol } from '../../native/index.ts';
import { MAPPING_NOT_LIST } from './fields.ts';
import { describeServer, LIST_ENTRY, serverList } from '../mqtt/server.ts';

/** The TypeScript type of a valid value of each format (null only where the option is `nullable`). */
export interface FormatTypes {
  'log-level': LogLevel;
  'topic-path': string;
  /** One URL, several separated by commas, or a list (mqtt/server.ts serverList reads all three). */
  'mqtt-server': string | string[];
  'tcp-port': number;
  'listen-port': number;
  'optional-ws-url': string;
  'optional-port': number;
  'positive-int': number;
  'optional-positive-int': number;
  qos: 0 | 1;
  'non-negative-int': number;
  integer: number;
  flag: boolean;
  text: string;
  'optional-url': string;
  'optional-path': string;
  list: unknown[];
  'topic-filters': string[];
  'origin-list': string[];
  /** Its type is the option's `values`. */
  'one-of': string;
  'chip-name': string;
  'line-name': string;
  'line-ref': string;
  'line-refs': string[];
  label: string;
  'ring-len': number;
  'socket-mode': number;
  'shm-size': number;
  payload: string;
}

export type FormatName = keyof FormatTypes;

/** What a format's check sees of the option (convict hands over the whole schema entry). */
export interface FormatSpec {
  nullable?: boolean | undefined;
  min?: number | undefined;
  max?: number | undefined;
  values?: readonly string[] | undefined;
}

export interface Format extends convict.Format {
  /** What the format allows, in a few words, for --help and the docs. */
  type: string | ((spec: FormatSpec) => string);
  validate: (value: unknown, spec: FormatSpec) => void;
  /** Turns a checked value of a list item into its Settings value (socket_mode's octal text into a number). */
  parse?: (value: never) => unknown;
}

const NULL_WORDS = new Set(['', 'null', 'off', 'none']);

function nullable(coerce: (text: string) => unknown): (value: unknown) => unknown {
  return (value) => {
    if (typeof value !== 'string') return value;
    return NULL_WORDS.has(value.trim().toLowerCase()) ? null : coerce(value.trim());
  };
}

function integerOf(text: string): unknown {
  return /^-?\d+$/.test(text) ? Number(text) : text;
}

/** `<chip>/<line>`: two non-empty topic levels. */
export function isLineRef(value: unknown): value is string {
  return typeof value === 'string' && /^[^/+#\s][^/+#]*\/[^/+#\s][^/+#]*$/.test(value);
}

function check(ok: boolean, allowed: string): void {
  if (!ok) throw new Error(`allowed: ${allowed}`);
}

export function isPowerOfTwo(value: number): boolean {
  return value > 0 && (value & (value - 1)) === 0;
}

const utf8Length = (text: string): number => Buffer.byteLength(text, 'utf8');

const NAME_RULE = 'a non-empty name without +, #, /, NUL or surrounding white space';
const MAX_PAYLOAD = 64;
const SERVER_RULE = '"embedded", mqtt://host[:port], mqtts://host[:port], ws://host[:port][/path], wss://... or unix:///path/to/socket, or a list of mqtt:// and mqtts:// URLs';
const SOCKET_MODE_RULE = 'an octal permission string such as "0600" or "0660"';

/** A topic level naming a chip or a line: at most `maxBytes` bytes (the protocol's name fields) and none of `reserved`. */
function topicName(maxBytes: number, reserved: readonly string[]): Format {
  return {
    type: `${NAME_RULE}, at most ${maxBytes} bytes, not ${reserved.join(', ')}`,
    validate: (value: unknown) => {
      check(typeof value === 'string' && nameProblem(value) === undefined, NAME_RULE);
      const name = value as string;
      check(!reserved.includes(name), `any name but ${reserved.join(', ')} (reserved for the bridge's own topics)`);
      check(utf8Length(name) <= maxBytes, `at most ${maxBytes} bytes of UTF-8`);
    },
  };
}

const integerRange = (spec: FormatSpec): string => `an integer ${spec.min ?? 0}..${spec.max ?? Number.MAX_SAFE_INTEGER}${spec.nullable === true ? ' or null' : ''}`;

export const formats: Record<FormatName, Format> = {
  'log-level': {
    type: 'error, warn, info or debug',
    validate: (value: unknown) => {
      check(value === 'error' || value === 'warn' || value === 'info' || value === 'debug', 'error, warn, info or debug');
    },
  },
  'topic-path': {
    type: 'topic levels separated by /',
    validate: (value: unknown) => {
      check(typeof value === 'string' && isValidTopicPath(value), 'topic levels separated by /, none empty, without + or #');
    },
  },
  'mqtt-server': {
    type: '"embedded", a broker URL, or a list of mqtt:// or mqtts:// URLs',
    validate: (value: unknown) => {
      const list = typeof value === 'string' ? serverList(value) : Array.isArray(value) && value.every((v) => typeof v === 'string') ? serverList(value) : undefined;
      check(list !== undefined && list.length > 0, SERVER_RULE);
      if (list === undefined || list.length === 1) {
        const one = list?.[0] ?? '';
        check(one === 'embedded' || /^(mqtts?|wss?):\/\/[^/\s]+/.test(one) || /^unix:\/\/\/\S+/.test(one), SERVER_RULE);
        return;
      }
      list.forEach((entry, index) => {
        check(LIST_ENTRY.test(entry), `in a list of brokers, entry ${index + 1} ${JSON.stringify(describeServer(entry))} is not one: each is mqtt://host[:port] or mqtts://host[:port] (one ws://, wss:// or unix:// broker goes alone)`);
      });
    },
  },
  'tcp-port': {
    type: 'port 1..65535',
    validate: (value: unknown) => {
      check(Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535, 'an integer port 1..65535');
    },
    coerce: integerOf,
  },
  'listen-port': {
    type: 'port 0..65535',
    validate: (value: unknown) => {
      check(Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 65535, 'an integer port 0..65535 (0 picks a free port)');
    },
    coerce: integerOf,
  },
  'optional-ws-url': {
    type: 'ws:// or wss:// URL, or null',
    validate: (value: unknown) => {
      check(value === null || (typeof value === 'string' && /^wss?:\/\/[^/\s]+\S*$/.test(value)), 'a ws:// or wss:// URL, or null');
    },
    coerce: nullable((text) => text),
  },
  'optional-port': {
    type: 'port 0..65535, or null',
    validate: (value: unknown) => {
      check(
        value === null || (Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 65535),
        'an integer port 0..65535 (0 picks a free port) or null to turn the listener off',
      );
    },
    coerce: nullable(integerOf),
  },
  'positive-int': {
    type: 'integer >= 1',
    validate: (value: unknown) => {
      check(Number.isInteger(value) && (value as number) >= 1, 'an integer >= 1');
    },
    coerce: integerOf,
  },
  'optional-positive-int': {
    type: 'integer >= 1, or null',
    validate: (value: unknown) => {
      check(value === null || (Number.isInteger(value) && (value as number) >= 1), 'an integer >= 1, or null for no limit');
    },
    coerce: nullable(integerOf),
  },
  qos: {
    type: '0 or 1',
    validate: (value: unknown) => {
      check(value === 0 || value === 1, '0 or 1');
    },
    coerce: integerOf,
  },
  'non-negative-int': {
    type: 'integer >= 0',
    validate: (value: unknown) => {
      check(Number.isInteger(value) && (value as number) >= 0, 'an integer >= 0');
    },
    coerce: integerOf,
  },
  /** An integer from the option's `min` to its `max`. */
  integer: {
    type: integerRange,
    validate: (value: unknown, spec: FormatSpec) => {
      check(Number.isInteger(value) && (value as number) >= (spec.min ?? 0) && (value as number) <= (spec.max ?? Number.MAX_SAFE_INTEGER), integerRange(spec));
    },
    coerce: integerOf,
  },
  flag: {
    type: 'true or false',
    validate: (value: unknown) => {
      check(typeof value === 'boolean', 'true or false');
    },
    coerce: (value: unknown) => {
      if (value === 'true') return true;
      if (value === 'false') return false;
      return value;
    },
  },
  text: {
    type: 'string',
    validate: (value: unknown) => {
      check(typeof value === 'string', 'a string');
    },
  },
  'optional-url': {
    type: 'http:// or https:// URL, or null',
    validate: (value: unknown) => {
      check(value === null || (typeof value === 'string' && /^https?:\/\/\S+$/.test(value) && URL.canParse(value)), 'an http:// or https:// URL, or null');
    },
    coerce: nullable((text) => text),
  },
  'optional-path': {
    type: 'path, or null',
    validate: (value: unknown) => {
      check(value === null || (typeof value === 'string' && value !== ''), 'a file or folder path, or null');
    },
    coerce: nullable((text) => text),
  },
  list: {
    type: 'list',
    validate: (value: unknown) => {
      check(Array.isArray(value), MAPPING_NOT_LIST);
    },
  },
  'topic-filters': {
    type: 'list of MQTT topic filters',
    validate: (value: unknown) => {
      check(Array.isArray(value), MAPPING_NOT_LIST);
      check((value as unknown[]).every((filter) => typeof filter === 'string' && isValidFilter(filter)), 'MQTT topic filters (+ and # only as whole levels, # last)');
    },
  },
  'origin-list': {
    type: 'list of origins (scheme://host[:port])',
    validate: (value: unknown) => {
      check(Array.isArray(value) && value.every((v) => typeof v === 'string' && isOrigin(v)), 'a list of origins such as https://gpio.example.org or http://host:8080 (no path)');
    },
    // From a flag or an environment variable: comma-separated, or a JSON list.
    coerce: (value: unknown) => {
      if (typeof value !== 'string') return value;
      if (value.trim().startsWith('[')) {
        try {
          return JSON.parse(value) as unknown;
        } catch {
          return value;
        }
      }
      return value.split(',').map((v) => v.trim()).filter((v) => v !== '');
    },
  },
  /** One of the option's `values`. */
  'one-of': {
    type: (spec: FormatSpec) => (spec.values ?? []).join(', '),
    validate: (value: unknown, spec: FormatSpec) => {
      check((spec.values ?? []).includes(value as string), (spec.values ?? []).join(', '));
    },
  },
  'chip-name': topicName(protocol.LABEL_LEN - 1, RESERVED_CHIP_NAMES),
  'line-name': topicName(protocol.NAME_LEN - 1, RESERVED_LINE_NAMES),
  /** `<chip>/<line>` words; whether they name a configured chip and line is a rule (config/wires.ts). */
  'line-ref': {
    type: '<chip>/<line>',
    validate: (value: unknown) => {
      check(isLineRef(value), '<chip>/<line> (a line name or number)');
    },
  },
  'line-refs': {
    type: 'list of <chip>/<line>',
    validate: (value: unknown) => {
      check(Array.isArray(value) && value.length > 0 && value.every(isLineRef), 'a non-empty list of <chip>/<line> (a line name or number)');
    },
  },
  label: {
    type: `string of 1..${protocol.LABEL_LEN - 1} bytes`,
    validate: (value: unknown) => {
      check(typeof value === 'string' && value !== '' && utf8Length(value) <= protocol.LABEL_LEN - 1, `a non-empty label of at most ${protocol.LABEL_LEN - 1} bytes of UTF-8`);
    },
  },
  'ring-len': {
    type: `power of two, ${protocol.RING_LEN_MIN}..${protocol.RING_LEN_MAX}`,
    validate: (value: unknown) => {
      const ok = Number.isInteger(value) && (value as number) >= protocol.RING_LEN_MIN && (value as number) <= protocol.RING_LEN_MAX;
      check(ok && isPowerOfTwo(value as number), `a power of two, ${protocol.RING_LEN_MIN}..${protocol.RING_LEN_MAX}`);
    },
  },
  /** YAML reads an unquoted 0660 as the decimal number 660, so a number gets a hint. */
  'socket-mode': {
    type: 'octal string in quotes',
    validate: (value: unknown) => {
      check(typeof value !== 'number', `${SOCKET_MODE_RULE} in quotes (YAML reads an unquoted 0660 as the decimal number 660)`);
      check(typeof value === 'string' && /^0?[0-7]{3}$/.test(value), SOCKET_MODE_RULE);
    },
    parse: (value: string) => Number.parseInt(value, 8),
  },
  /** The lower bound depends on ngpio and ring_len: config/chips.ts checks it. */
  'shm-size': {
    type: 'power of two (bytes)',
    validate: (value: unknown) => {
      check(Number.isInteger(value) && (value as number) >= 1, 'an integer number of bytes, a power of two');
    },
  },
  payload: {
    type: `string of 1..${MAX_PAYLOAD} characters`,
    validate: (value: unknown) => {
      check(typeof value === 'string', 'a string');
      check(value !== '' && (value as string).length <= MAX_PAYLOAD, `a non-empty string of at most ${MAX_PAYLOAD} characters`);
    },
  },
};
