#!/usr/bin/env node
/**
 * The `vgpio2mqtt` command: start (the default), qemu-args, get, set,
 * watch, capture, --help, --version. Configuration problems are printed and end the
 * process with status 2 before anything is opened; runtime failures with 1.
 */
import { parseArgs } from 'node:util';
import { ConfigError, CONFIG_ENV, flagSpec, loadSettings, optionsHelp } from './config/load.ts';
import { joinNegativeValues, unknownFlags, type FlagSpec } from './config/flags.ts';
import type { Settings } from './config/types.ts';
import { Controller } from './controller.ts';
import { Logger, surviveClosedOutput } from './log.ts';
import { LibvirtError, libvirtXml } from './libvirt-xml.ts';
import { qemuArgs, shellWord } from './qemu-args.ts';
import { CAPTURE_FLAGS, CaptureArgsError, captureOptions } from './capture/options.ts';
import { VERSION } from './version.ts';
import { STOP_TIMEOUT_MS } from './mqtt/link.ts';

/** What the rest of a stop (chips, web and metrics servers) may take beyond the bounded MQTT and guest waits, in ms. */
const STOP_GRACE_MS = 5000;

const USAGE = `vgpio2mqtt ${VERSION}: GPIO lines of QEMU guests over MQTT

Usage:
  vgpio2mqtt [start] [options]            run the bridge (the default)
  vgpio2mqtt qemu-args <chip> [--format qemu|libvirt] [options]
                                          print what attaches a guest to <chip>: QEMU options (the
                                          default), or libvirt domain XML for <devices>
  vgpio2mqtt get <chip> <line> [options]  print a line's state, as a running bridge reads it
  vgpio2mqtt set <chip> <line> <payload> [options]
                                          set a host-driven line: ON OFF 1 0 true false high low
                                          TOGGLE, or JSON {"state":"ON","pulse_ms":200}
  vgpio2mqtt watch [<chip> [<line>]] [options]
                                          print states and edges as the bridge publishes them
  vgpio2mqtt capture --chip <chip> [--lines a,b,3] [--duration 10s] [--count N] --out <file.vcd|->
                                          record the chip's edges into a VCD file (GTKWave, PulseView,
                                          sigrok) until the duration passed, N edges arrived or Ctrl-C;
                                          --lines: names or numbers (default: every line); --duration:
                                          ms, s, m or h (a bare number is seconds); --out -: stdout
  vgpio2mqtt --help | --version

get, set, watch and capture reach the bridge through its MQTT broker, as configured
(the embedded broker's broker.host and broker.port, or mqtt.server).

Options (precedence: built-in default < config file < environment < flag):
  -c, --config <file>  YAML or JSON configuration file (also ${CONFIG_ENV})
${optionsHelp()}
`;

const COMMANDS: Record<string, { min: number; max: number; usage: string }> = {
  start: { min: 0, max: 0, usage: 'vgpio2mqtt start [options]' },
  'qemu-args': { min: 1, max: 1, usage: 'vgpio2mqtt qemu-args <chip> [--format qemu|libvirt] [options]' },
  get: { min: 2, max: 2, usage: 'vgpio2mqtt get <chip> <line> [options]' },
  set: { min: 3, max: 3, usage: 'vgpio2mqtt set <chip> <line> <payload> [options]' },
  watch: { min: 0, max: 2, usage: 'vgpio2mqtt watch [<chip> [<line>]] [options]' },
  capture: { min: 0, max: 0, usage: 'vgpio2mqtt capture --chip <chip> [--lines a,b,3] [--duration 10s] [--count N] --out <file.vcd|-> [options]' },
};

class UsageError extends Error {}

const FORMATS = ['qemu', 'libvirt'] as const;
type Format = (typeof FORMATS)[number];
/** qemu-args' own flag. */
const QEMU_ARGS_FLAGS: FlagSpec = { format: { type: 'string' } };

function formatOf(value: string | undefined): Format {
  const format = value ?? 'qemu';
  if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format ${JSON.stringify(format)}; allowed: ${FORMATS.join(', ')}`);
  return format as Format;
}

/**
 * Splits the words into positionals, the flag words loadSettings checks and
 * the values of the command's own flags (`own`, e.g. capture's --chip).
 */
function split(words: string[], own: FlagSpec = {}): { positionals: string[]; flags: string[]; values: Record<string, string> } {
  const spec: FlagSpec = { ...flagSpec(), ...own, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'V' } };
  const args = joinNegativeValues(words, spec);
  // Before counting positionals: the value of a misspelt flag would count as one.
  const [unknown] = unknownFlags(args, spec);
  if (unknown !== undefined) throw new UsageError(`${unknown} (see vgpio2mqtt --help)`);
  let tokens;
  try {
    ({ tokens } = parseArgs({ args, options: spec, strict: false, allowPositionals: true, tokens: true }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const positionalIndexes = new Set(tokens.filter((t) => t.kind === 'positional').map((t) => t.index));
  const ownIndexes = new Set<number>();
  const values: Record<string, string> = {};
  for (const token of tokens) {
    if (token.kind !== 'option' || !Object.hasOwn(own, token.name)) continue;
    if (token.value === undefined) throw new UsageError(`${token.rawName} needs a value (see vgpio2mqtt --help)`);
    values[token.name] = token.value;
    ownIndexes.add(token.index);
    if (!token.inlineValue) ownIndexes.add(token.index + 1);
  }
  return {
    positionals: args.filter((_, i) => positionalIndexes.has(i) && !ownIndexes.has(i)),
    flags: args.filter((_, i) => !positionalIndexes.has(i) && !ownIndexes.has(i)),
    values,
  };
}

function settingsOrExit(flags: string[]): Settings {
  try {
    return loadSettings({ args: flags });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`vgpio2mqtt: ${error.message}\n`);
    process.exit(2);
  }
}

async function runStart(settings: Settings): Promise<void> {
  surviveClosedOutput();
  const log = new Logger(settings.logLevel);
  let controller: Controller;
  try {
    controller = await Controller.start(settings, { log });
  } catch {
    // Controller.start logged why before undoing what it had started.
    process.exit(1);
  }
  let signals = 0;
  const shutdown = (signal: string): void => {
    signals += 1;
    if (signals > 1) {
      log.warn(`${signal} again: exiting without finishing the shutdown`);
      process.exit(1);
    }
    log.info(`${signal}: shutting down`);
    // Controller.stop bounds its waits for the guest and the broker by STOP_TIMEOUT_MS; this is the backstop for the rest.
    setTimeout(() => {
      log.error(`${signal}: the shutdown did not finish within ${STOP_TIMEOUT_MS + STOP_GRACE_MS} ms; exiting`);
      process.exit(1);
    }, STOP_TIMEOUT_MS + STOP_GRACE_MS).unref();
    controller.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error(`shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => {
    shutdown('SIGINT');
  });
  process.on('SIGTERM', () => {
    shutdown('SIGTERM');
  });
}

/** Aborted by the first SIGINT or SIGTERM (a second one ends the process the default way). */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  process.once('SIGINT', () => {
    controller.abort();
  });
  process.once('SIGTERM', () => {
    controller.abort();
  });
  return controller.signal;
}

function chipOf(settings: Settings, name: string): Settings['chips'][number] {
  const chip = settings.chips.find((c) => c.name === name);
  if (chip === undefined) throw new UsageError(`no chip ${JSON.stringify(name)} in the configuration; chips: ${settings.chips.map((c) => c.name).join(', ')}`);
  return chip;
}

async function main(argv: string[]): Promise<void> {
  const [command = 'start', ...rest] = argv[0] !== undefined && !argv[0].startsWith('-') ? argv : ['start', ...argv];
  if (rest.includes('--help') || rest.includes('-h') || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (rest.includes('--version') || rest.includes('-V')) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  const spec = COMMANDS[command];
  if (spec === undefined || !Object.hasOwn(COMMANDS, command)) throw new UsageError(`unknown command ${JSON.stringify(command)}; allowed: ${Object.keys(COMMANDS).join(', ')} (see vgpio2mqtt --help)`);
  const own = command === 'capture' ? CAPTURE_FLAGS : command === 'qemu-args' ? QEMU_ARGS_FLAGS : {};
  const { positionals, flags, values } = split(rest, own);
  const format = formatOf(values.format);
  if (positionals.length < spec.min || positionals.length > spec.max) {
    throw new UsageError(`${command} takes ${spec.min === spec.max ? spec.min : `${spec.min} to ${spec.max}`} argument(s), got ${positionals.length}; usage: ${spec.usage}`);
  }
  const settings = settingsOrExit(flags);
  const [a, b, c] = positionals;
  // The argument counts were checked against COMMANDS above.
  const need = (value: string | undefined): string => value ?? '';
  // get/set/watch need an MQTT client; `start` with the embedded broker does not load one (about 19 MiB).
  const remote = (): Promise<typeof import('./remote.ts')> => import('./remote.ts');
  switch (command) {
    case 'start':
      await runStart(settings);
      return;
    case 'qemu-args': {
      const chip = chipOf(settings, need(a));
      if (format === 'qemu') {
        process.stdout.write(`${qemuArgs(chip).map(shellWord).join(' ')}\n`);
        return;
      }
      try {
        process.stdout.write(libvirtXml(chip));
      } catch (error) {
        // A chip libvirt cannot attach as configured is a usage problem, answered like a bad argument.
        if (error instanceof LibvirtError) throw new UsageError(error.message);
        throw error;
      }
      return;
    }
    case 'get': {
      const { checkName, request } = await remote();
      checkName('chip', need(a));
      checkName('line', need(b));
      const data = (await request(settings, 'get', { chip: a, line: b })) as { state: string };
      process.stdout.write(`${data.state}\n`);
      return;
    }
    case 'set': {
      const { checkName, request } = await remote();
      checkName('chip', need(a));
      checkName('line', need(b));
      const payload = need(c);
      let body: Record<string, unknown> = { state: payload };
      if (payload.trim().startsWith('{')) {
        try {
          body = JSON.parse(payload) as Record<string, unknown>;
        } catch {
          throw new UsageError(`payload ${payload} is not valid JSON`);
        }
      }
      const data = (await request(settings, 'set', { ...body, chip: a, line: b })) as { state: string };
      process.stdout.write(`${data.state}\n`);
      return;
    }
    case 'watch': {
      const { watch } = await remote();
      await watch(settings, a, b, (text) => process.stdout.write(`${text}\n`), interruptSignal());
      return;
    }
    case 'capture': {
      const options = captureOptions(values, settings);
      const { runCapture } = await import('./capture/run.ts');
      await runCapture(settings, options, interruptSignal(), (text) => process.stderr.write(`${text}\n`));
      return;
    }
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`vgpio2mqtt: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof UsageError || error instanceof CaptureArgsError ? 2 : 1);
});
