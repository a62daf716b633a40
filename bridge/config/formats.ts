/**
 * Convict formats for the bridge's options. Each throws a message saying
 * what is allowed; config/load.ts adds the option's name and the bad value.
 * Values from the environment and the command line arrive as strings, so
 * every format has a `coerce` that turns such a string into its type.
 */
import type convict from 'convict';
import { isValidTopicPath } from '../mqtt/topics.ts';
import { isOrigin } from '../../broker/origin-guard.ts';

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

function check(ok: boolean, allowed: string): void {
  if (!ok) throw new Error(`allowed: ${allowed}`);
}

export const formats: Record<string, convict.Format> = {
  'log-level': {
    validate: (value: unknown) => {
      check(value === 'error' || value === 'warn' || value === 'info' || value === 'debug', 'error, warn, info or debug');
    },
  },
  'topic-path': {
    validate: (value: unknown) => {
      check(typeof value === 'string' && isValidTopicPath(value), 'topic levels separated by /, none empty, without + or #');
    },
  },
  'mqtt-server': {
    validate: (value: unknown) => {
      check(
        typeof value === 'string' && (value === 'embedded' || /^(mqtts?|wss?):\/\/[^/\s]+/.test(value) || /^unix:\/\/\/\S+/.test(value)),
        '"embedded", mqtt://host[:port], mqtts://host[:port], ws://host[:port][/path], wss://... or unix:///path/to/socket',
      );
    },
  },
  'tcp-port': {
    validate: (value: unknown) => {
      check(Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535, 'an integer port 1..65535');
    },
    coerce: integerOf,
  },
  'listen-port': {
    validate: (value: unknown) => {
      check(Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 65535, 'an integer port 0..65535 (0 picks a free port)');
    },
    coerce: integerOf,
  },
  'optional-ws-url': {
    validate: (value: unknown) => {
      check(value === null || (typeof value === 'string' && /^wss?:\/\/[^/\s]+\S*$/.test(value)), 'a ws:// or wss:// URL, or null');
    },
    coerce: nullable((text) => text),
  },
  'optional-port': {
    validate: (value: unknown) => {
      check(
        value === null || (Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 65535),
        'an integer port 0..65535 (0 picks a free port) or null to turn the listener off',
      );
    },
    coerce: nullable(integerOf),
  },
  'positive-int': {
    validate: (value: unknown) => {
      check(Number.isInteger(value) && (value as number) >= 1, 'an integer >= 1');
    },
    coerce: integerOf,
  },
  'optional-positive-int': {
    validate: (value: unknown) => {
      check(value === null || (Number.isInteger(value) && (value as number) >= 1), 'an integer >= 1, or null for no limit');
    },
    coerce: nullable(integerOf),
  },
  qos: {
    validate: (value: unknown) => {
      check(value === 0 || value === 1, '0 or 1');
    },
    coerce: integerOf,
  },
  'non-negative-int': {
    validate: (value: unknown) => {
      check(Number.isInteger(value) && (value as number) >= 0, 'an integer >= 0');
    },
    coerce: integerOf,
  },
  flag: {
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
    validate: (value: unknown) => {
      check(typeof value === 'string', 'a string');
    },
  },
  'optional-url': {
    validate: (value: unknown) => {
      check(value === null || (typeof value === 'string' && /^https?:\/\/\S+$/.test(value) && URL.canParse(value)), 'an http:// or https:// URL, or null');
    },
    coerce: nullable((text) => text),
  },
  'optional-path': {
    validate: (value: unknown) => {
      check(value === null || (typeof value === 'string' && value !== ''), 'a file or folder path, or null');
    },
    coerce: nullable((text) => text),
  },
  'origin-list': {
    validate: (value: unknown) => {
      check(Array.isArray(value) && value.every((v) => typeof v === 'string' && isOrigin(v)), 'a list of origins such as https://gpio.example.org or http://host:8080 (no path)');
    },
    coerce: (value: unknown) => (typeof value === 'string' ? value.split(',').map((v) => v.trim()).filter((v) => v !== '') : value),
  },
  list: {
    validate: (value: unknown) => {
      check(Array.isArray(value), 'a list');
    },
  },
};
