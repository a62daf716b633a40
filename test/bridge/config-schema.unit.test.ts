/**
 * The one configuration description (bridge/settings/schema.ts) and what is
 * derived from it: environment variable names, flags and camelCase
 * settings keys for every option, the --help text, the reference in
 * docs/configuration.md, and the TypeScript types (checked by `npm run
 * typecheck`, below).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSettings } from '../../bridge/settings/load.ts';
import { optionsHelp } from '../../bridge/settings/help.ts';
import { configReference, withReference } from '../../bridge/settings/reference.ts';
import { camelCase, envName, flagName, listOptions, type GroupSpec } from '../../bridge/settings/schema.ts';
import type { ChipConfig, LineConfig, Settings } from '../../bridge/settings/types.ts';

const DOC = join(import.meta.dirname, '../../docs/configuration.md');

/** The value at a dotted option path in the settings, through the camelCase keys. */
function settingAt(settings: Settings, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[camelCase(key)], settings);
}

// Compile-time checks: `npm run typecheck` fails if a derived type is not what the bridge relies on.
type Equal<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const typeChecks: [
  Equal<Settings['mqtt']['clientId'], string>,
  Equal<Settings['mqtt']['qos'], 0 | 1>,
  Equal<Settings['broker']['port'], number | null>,
  Equal<Settings['broker']['maxPublishRate'], number | null>,
  Equal<Settings['logLevel'], 'error' | 'warn' | 'info' | 'debug'>,
  Equal<ChipConfig['mode'], 'server' | 'client' | 'plain'>,
  Equal<ChipConfig['socket'], string | null>,
  Equal<ChipConfig['size'], number>,
  Equal<ChipConfig['socketMode'], number>,
  Equal<ChipConfig['label'], string>,
  Equal<LineConfig['direction'], 'input' | 'output'>,
  Equal<LineConfig['pulseMs'], number | null>,
  Equal<LineConfig['name'], string>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true];

describe('the configuration schema', () => {
  it('derives environment variables, flags and settings keys mechanically', () => {
    assert.ok(typeChecks.every(Boolean));
    assert.equal(envName('mqtt.client_id'), 'VGPIO2MQTT_MQTT_CLIENT_ID');
    assert.equal(flagName('mqtt.client_id'), 'mqtt-client-id');
    assert.equal(camelCase('max_publish_rate'), 'maxPublishRate');
    // A new option needs nothing but its entry: its name, variable and flag follow.
    const added: GroupSpec = { web: { allowed_origins: { doc: 'Origins allowed.', format: 'text', default: '' } } };
    assert.deepEqual(listOptions(added).map((o) => [o.path, o.env, o.arg, o.fileOnly]), [['web.allowed_origins', 'VGPIO2MQTT_WEB_ALLOWED_ORIGINS', 'web-allowed-origins', false]]);
  });

  it('reads every option from its environment variable and its flag into its camelCase settings key', () => {
    const defaults = loadSettings({ env: {} });
    const options = listOptions().filter((o) => !o.fileOnly);
    assert.ok(options.length >= 30, `${options.length} options`);
    for (const o of options) {
      const value = settingAt(defaults, o.path);
      assert.deepEqual(value, o.default, `${o.path} defaults to its schema default`);
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      const env = o.env ?? assert.fail(o.path);
      assert.deepEqual(settingAt(loadSettings({ env: { [env]: text } }), o.path), value, `${env}=${text}`);
      assert.deepEqual(settingAt(loadSettings({ args: [`--${o.arg ?? ''}`, text], env: {} }), o.path), value, `--${o.arg ?? ''} ${text}`);
    }
    // And a value other than the default arrives, under its camelCase name.
    assert.equal(loadSettings({ env: { VGPIO2MQTT_BROKER_MAX_PUBLISH_RATE: 'off' } }).broker.maxPublishRate, null);
    assert.equal(loadSettings({ args: ['--mqtt-client-id', 'other'], env: {} }).mqtt.clientId, 'other');
  });

  it('has a settings key for every option and no key without one', () => {
    const settings = loadSettings({ env: {} });
    const keys = (node: unknown, prefix: string): string[] =>
      Object.entries(node as Record<string, unknown>).flatMap(([key, value]) =>
        typeof value === 'object' && value !== null && !Array.isArray(value) ? keys(value, `${prefix}${key}.`) : [`${prefix}${key}`],
      );
    const fromSchema = listOptions().map((o) => o.path.split('.').map(camelCase).join('.'));
    assert.deepEqual(keys(settings, '').sort(), [...fromSchema, 'file'].sort());
    const chip = settings.chips[0] ?? assert.fail();
    const chipKeys = listOptions(undefined, '', { items: true })
      .filter((o) => /^chips\[\]\.[a-z_]+$/.test(o.path))
      .map((o) => camelCase(o.path.slice('chips[].'.length)));
    assert.deepEqual(Object.keys(chip).sort(), [...chipKeys, 'runtimeDir'].sort());
    const lineKeys = listOptions(undefined, '', { items: true })
      .filter((o) => o.path.startsWith('chips[].lines[].'))
      .map((o) => camelCase(o.path.slice('chips[].lines[].'.length)));
    assert.deepEqual(Object.keys(chip.lines[0] ?? assert.fail()).sort(), [...lineKeys, 'configured'].sort());
  });

  it('prints every option in --help, chips and lines included, with its default and what is allowed', () => {
    const help = optionsHelp();
    const all = listOptions(undefined, '', { items: true });
    assert.ok(all.some((o) => o.path === 'chips[].lines[].debounce_ms'));
    for (const o of all) {
      assert.ok(help.includes(`  ${o.path}  (${o.fileOnly ? 'file only' : `--${o.arg ?? ''}, ${o.env ?? ''}`})\n      ${o.doc}\n`), `--help lists ${o.path}`);
    }
    assert.match(help, / {2}chips\[\]\.ngpio {2}\(file only\)\n.*\n {6}an integer 1\.\.1024; default: 32/);
    assert.match(help, / {2}chips\[\]\.poll_ms {2}\(file only\)\n.*\n {6}an integer 1\.\.60000; default: plain: 10, else 1000/);
  });

  it('matches the reference in docs/configuration.md (run `npm run docs:config` after changing the schema)', () => {
    const doc = readFileSync(DOC, 'utf8');
    assert.equal(withReference(doc), doc, 'docs/configuration.md is out of date: run npm run docs:config');
    const reference = configReference();
    for (const o of listOptions()) {
      assert.ok(reference.includes(`| \`${o.path}\` |`), `the reference lists ${o.path}`);
      if (o.env !== undefined) assert.ok(reference.includes(`\`${o.env}\``), `the reference names ${o.env}`);
    }
    for (const o of listOptions(undefined, '', { items: true }).filter((x) => x.path.includes('[]'))) {
      assert.ok(reference.includes(`| \`${o.path.slice(o.path.lastIndexOf('[].') + 3)}\` |`), `the reference lists ${o.path}`);
    }
  });
});
