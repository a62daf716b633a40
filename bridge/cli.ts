#!/usr/bin/env node
/**
 * The `vgpio2mqtt` command: start (the default), qemu-args, get, set,
 * watch, capture, play, --help, --version. Configuration problems are printed and end the
 * process with status 2 before anything is opened; runtime failures with 1.
 */
import { parseArgs } from 'node:util';
import { ConfigError, CONFIG_ENV, flagSpec, loadSettings, optionsHelp } from './settings/load.ts';
import { joinNegativeValues, unknownFlags, type FlagSpec } from './settings/flags.ts';
import type { Settings } from './settings/types.ts';
import { Controller } from './controller.ts';
import { Logger, surviveClosedOutput } from './log.ts';
import { LibvirtError, libvirtXml } from './guest-setup/libvirt-xml.ts';
import { qemuArgs, shellWord } from './guest-setup/qemu-args.ts';
import { pwmArgument } from './signals/pwm-arg.ts';
import { CAPTURE_FLAGS, CaptureArgsError, captureOptions } from './capture/options.ts';
import { DecodeArgsError } from './capture/decode.ts';
import { PLAY_FLAGS, PlayArgsError, playOptions } from './capture/play-options.ts';
import { ChipLookupError, findLine, knownChips, pickChip } from './cli/known-chips.ts';
import { VERSION } from './version.ts';
import { STOP_TIMEOUT_MS } from './mqtt/link.ts';

/** What the rest of a stop (chips, web and metrics servers) may take beyond the bounded MQTT and guest waits, in ms. */
const STOP_GRACE_MS = 5000;

const USAGE = `vgpio2mqtt ${VERSION}: GPIO lines of QEMU guests over MQTT

Usage:
  vgpio2mqtt [start] [options]            run the bridge (the default)
  vgpio2mqtt qemu-args [<chip>] [--format qemu|libvirt] [options]
                                          print what attaches a guest to <chip>: QEMU options (the
                                          default), or libvirt domain XML for <devices>
  vgpio2mqtt get [<chip>] <line> [options]
                                          print a line's state, as a running bridge reads it
  vgpio2mqtt set [<chip>] <line> <payload> [options]
                                          set a host-driven line: ON OFF 1 0 true false high low
                                          TOGGLE, or JSON {"state":"ON","pulse_ms":200}
  vgpio2mqtt watch [<chip> [<line>]] [options]
                                          print states and edges as the bridge publishes them
  vgpio2mqtt capture [--chip <chip>] [--lines a,b,3] [--duration 10s] [--count N] --out <file.vcd|->
                                          record the chip's edges into a VCD file (GTKWave, PulseView,
                                          sigrok) until the duration passed, N edges arrived or Ctrl-C;
                                          --decode uart:rx=LINE,baud=N|i2c:scl=LINE,sda=LINE prints the bytes
  vgpio2mqtt play --in <file.vcd> [--map SIGNAL=chip/line ...] [--speed X] [--loop]
                                          play a VCD's signals onto input lines with the file's timing
  vgpio2mqtt <command> --help             the command's own options and an example
  vgpio2mqtt --help | --version

Chips: from the configuration file when one is given (-c or ${CONFIG_ENV}), else from the
running bridge's retained bridge/info. With one chip, <chip> (--chip) may be left out: get and
set then take one word fewer (get <line>, set <line> <payload>).
get, set, watch and capture reach the bridge through its MQTT broker, as configured
(the embedded broker's broker.host and broker.port, or mqtt.server).

Options (precedence: built-in default < config file < environment < flag):
  -c, --config <file>  YAML or JSON configuration file (also ${CONFIG_ENV})
${optionsHelp()}
`;

/** The footer of every command's own help. */
const MORE = `Chips come from the configuration file when one is given (-c <file> or ${CONFIG_ENV}), else from
the running bridge's bridge/info. The broker is reached as configured: --broker-host, --broker-port,
--mqtt-server, --mqtt-username, --mqtt-password, --base-topic; every option: vgpio2mqtt --help`;

interface Command {
  /** Positional arguments allowed. */
  min: number;
  max: number;
  usage: string;
  /** What `vgpio2mqtt <command> --help` prints besides the usage and MORE. */
  help: string;
}

const COMMANDS: Record<string, Command> = {
  start: {
    min: 0,
    max: 0,
    usage: 'vgpio2mqtt start [options]',
    help: `Runs the bridge: the embedded MQTT broker (or a client of mqtt.server), every configured chip,
the web view and the metrics endpoint, until SIGINT or SIGTERM.

Example:
  vgpio2mqtt start -c /etc/vgpio2mqtt.yaml`,
  },
  'qemu-args': {
    min: 0,
    max: 1,
    usage: 'vgpio2mqtt qemu-args [<chip>] [--format qemu|libvirt] [options]',
    help: `Prints what attaches a QEMU guest to <chip> (default: the only chip).

Options:
  --format qemu      QEMU command-line options, shell-quoted (the default)
  --format libvirt   libvirt domain XML for <devices>

Example:
  qemu-system-x86_64 ... $(vgpio2mqtt qemu-args vgpio0)`,
  },
  get: {
    min: 1,
    max: 2,
    usage: 'vgpio2mqtt get [<chip>] <line> [options]',
    help: `Prints a line's state as the running bridge reads it from shared memory. <line> is a line's
name or number; <chip> may be left out when there is one chip (get <line>).

Example:
  vgpio2mqtt get vgpio0 led`,
  },
  set: {
    min: 2,
    max: 3,
    usage: 'vgpio2mqtt set [<chip>] <line> <payload>|--pwm PERIOD:DUTY [options]',
    help: `Sets a host-driven line through the running bridge and prints the new state. <payload>: ON OFF
1 0 true false high low TOGGLE, JSON {"state":"ON","pulse_ms":200}, or a waveform
{"pwm":...}, {"pattern":...}, {"bounce":...} (docs/topics.md); --pwm 20ms:50% (or 100Hz:50%)
starts a square wave instead of a payload. Any later command on the line stops a waveform. <chip>
may be left out when there is one chip (set <line> <payload>).

Example:
  vgpio2mqtt set vgpio0 button '{"state":"ON","pulse_ms":200}'
  vgpio2mqtt set vgpio0 button --pwm 20ms:50%`,
  },
  watch: {
    min: 0,
    max: 2,
    usage: 'vgpio2mqtt watch [<chip> [<line>]] [options]',
    help: `Prints <topic> <payload> for every state, edge, guest confirmation and line configuration the
bridge publishes, of every chip (with one chip: that chip), of <chip>, or of one line, until Ctrl-C.

Example:
  vgpio2mqtt watch vgpio0 led`,
  },
  capture: {
    min: 0,
    max: 0,
    usage: 'vgpio2mqtt capture [--chip <chip>] [--lines a,b,3] [--duration 10s] [--count N] --out <file.vcd|-> [options]',
    help: `Records a chip's host and guest edges into a VCD file (GTKWave, PulseView, sigrok) until the
duration passed, N edges arrived or Ctrl-C.

Options:
  --chip <chip>      the chip (default: the only chip)
  --lines a,b,3      line names or numbers, in signal order (default: every line)
  --duration 10s     stop after ms, s, m or h (a bare number is seconds)
  --count N          stop after N edges on the chosen lines
  --out <file|->     the VCD file, or - for stdout (progress goes to stderr)
  --decode uart:rx=LINE,baud=N | i2c:scl=LINE,sda=LINE
                     run sigrok's decoder over the file and print the bytes

Example:
  vgpio2mqtt capture --lines button,led --duration 10s --out blink.vcd`,
  },
  play: {
    min: 0,
    max: 0,
    usage: 'vgpio2mqtt play --in <file.vcd> [--chip <chip>] [--map SIGNAL=chip/line ...] [--speed X] [--loop] [options]',
    help: `Plays a VCD file's one-bit signals onto host-driven input lines through the running bridge, with
the file's timing (from vgpio2mqtt capture, PulseView or sigrok-cli). Every signal must reach an input
line before anything is played. Ctrl-C stops it; each line keeps the level it was last played.

Options:
  --in <file.vcd>        the VCD file
  --chip <chip>          the chip of lines named without one (default: the only chip)
  --map SIGNAL=chip/line a signal's line (default: the line named like the signal); SIGNAL=line on
                         --chip, SIGNAL=- leaves it out; repeat it or separate entries with commas
  --speed X              play X times as fast (0.001 to 1000, default 1)
  --loop                 start again from time 0 at the end of the file, until Ctrl-C

Example:
  vgpio2mqtt play --in board.vcd --map D0=vgpio0/button --map D1=-`,
  },
};

/** `vgpio2mqtt <command> --help`. */
function commandHelp(command: Command): string {
  return `Usage: ${command.usage}\n\n${command.help}\n\n${MORE}\n`;
}

class UsageError extends Error {}

const FORMATS = ['qemu', 'libvirt'] as const;
type Format = (typeof FORMATS)[number];
/** qemu-args' own flag. */
const QEMU_ARGS_FLAGS: FlagSpec = { format: { type: 'string' } };
/** set's own flag: a square wave instead of a payload. */
const SET_FLAGS: FlagSpec = { pwm: { type: 'string' } };

function formatOf(value: string | undefined): Format {
  const format = value ?? 'qemu';
  if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format ${JSON.stringify(format)}; allowed: ${FORMATS.join(', ')}`);
  return format as Format;
}

/**
 * Splits the words into positionals, the flag words loadSettings checks and
 * the values of the command's own flags (`own`, e.g. capture's --chip).
 */
function split(words: string[], own: FlagSpec = {}): { positionals: string[]; flags: string[]; values: Record<string, string>; lists: Record<string, string[]> } {
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
  const lists: Record<string, string[]> = {};
  for (const token of tokens) {
    if (token.kind !== 'option' || !Object.hasOwn(own, token.name)) continue;
    const flag = own[token.name] as { type: string; multiple?: boolean };
    ownIndexes.add(token.index);
    // A boolean flag of the command (play's --loop) takes no value.
    if (flag.type === 'boolean') {
      values[token.name] = 'true';
      continue;
    }
    if (token.value === undefined) throw new UsageError(`${token.rawName} needs a value (see vgpio2mqtt --help)`);
    values[token.name] = token.value;
    // A flag that may be repeated (play's --map) keeps every value.
    if (flag.multiple === true) (lists[token.name] ??= []).push(token.value);
    if (!token.inlineValue) ownIndexes.add(token.index + 1);
  }
  return {
    positionals: args.filter((_, i) => positionalIndexes.has(i) && !ownIndexes.has(i)),
    flags: args.filter((_, i) => !positionalIndexes.has(i) && !ownIndexes.has(i)),
    values,
    lists,
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

async function main(argv: string[]): Promise<void> {
  const [command = 'start', ...rest] = argv[0] !== undefined && !argv[0].startsWith('-') ? argv : ['start', ...argv];
  const help = rest.includes('--help') || rest.includes('-h');
  if (command === 'help' || (help && command === 'start' && argv[0] !== 'start')) {
    // `vgpio2mqtt help [<command>]`, and `vgpio2mqtt --help`: the whole usage with every configuration option.
    const named = command === 'help' && rest[0] !== undefined && Object.hasOwn(COMMANDS, rest[0]) ? COMMANDS[rest[0]] : undefined;
    process.stdout.write(named === undefined ? USAGE : commandHelp(named));
    return;
  }
  if (rest.includes('--version') || rest.includes('-V')) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  const spec = COMMANDS[command];
  if (spec === undefined || !Object.hasOwn(COMMANDS, command)) throw new UsageError(`unknown command ${JSON.stringify(command)}; allowed: ${Object.keys(COMMANDS).join(', ')} (see vgpio2mqtt --help)`);
  if (help) {
    process.stdout.write(commandHelp(spec));
    return;
  }
  const own = command === 'capture' ? CAPTURE_FLAGS : command === 'play' ? PLAY_FLAGS : command === 'qemu-args' ? QEMU_ARGS_FLAGS : command === 'set' ? SET_FLAGS : {};
  const { positionals, flags, values, lists } = split(rest, own);
  const format = formatOf(values.format);
  // With --pwm, set takes no payload: one positional fewer.
  const [min, max] = values.pwm === undefined ? [spec.min, spec.max] : [spec.min - 1, spec.max - 1];
  if (positionals.length < min || positionals.length > max) {
    throw new UsageError(`${command} takes ${min === max ? min : `${min} to ${max}`} argument(s), got ${positionals.length}; usage: ${spec.usage} (see vgpio2mqtt ${command} --help)`);
  }
  const settings = settingsOrExit(flags);
  if (command === 'start') {
    await runStart(settings);
    return;
  }
  // The other commands need an MQTT client (or may: qemu-args without a configuration file); `start` with the embedded broker does not load one (about 19 MiB).
  const remote = await import('./cli/remote.ts');
  // get and set: the chip may be left out when there is one (the positional count tells which form it is).
  const [chip, line, payload] = positionals.length === max ? [positionals[0], positionals[1], positionals[2]] : [undefined, ...positionals];
  if (command === 'get' || command === 'set') {
    // A name no topic can carry is refused as such, before it is looked up (watch checks its own).
    if (chip !== undefined) remote.checkName('chip', chip);
    remote.checkName('line', line ?? '');
  }
  // Only where a chip is needed: `watch` with no chip just subscribes, so it can watch a bridge come up.
  const needsChips = !(command === 'watch' && positionals[0] === undefined);
  const source = needsChips ? await knownChips(settings, (s) => remote.bridgeInfo(s)) : undefined;
  const chips = (): NonNullable<typeof source> => {
    if (source === undefined) throw new Error('the chips were not looked up for this command');
    return source;
  };
  switch (command) {
    case 'qemu-args': {
      const target = pickChip(chips(), positionals[0], 'qemu-args <chip>');
      if (format === 'qemu') {
        process.stdout.write(`${qemuArgs(target).map(shellWord).join(' ')}\n`);
        return;
      }
      try {
        process.stdout.write(libvirtXml(target));
      } catch (error) {
        // A chip libvirt cannot attach as configured is a usage problem, answered like a bad argument.
        if (error instanceof LibvirtError) throw new UsageError(error.message);
        throw error;
      }
      return;
    }
    case 'get': {
      const target = pickChip(chips(), chip, `get <chip> <line>`);
      const data = (await remote.request(settings, 'get', { chip: target.name, line: findLine(target, line ?? '').name })) as { state: string };
      process.stdout.write(`${data.state}\n`);
      return;
    }
    case 'set': {
      const target = pickChip(chips(), chip, `set <chip> <line> <payload>`);
      const text = payload ?? '';
      let body: Record<string, unknown> = { state: text };
      if (values.pwm !== undefined) {
        try {
          body = pwmArgument(values.pwm);
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
      } else if (text.trim().startsWith('{')) {
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          throw new UsageError(`payload ${text} is not valid JSON`);
        }
      }
      const data = (await remote.request(settings, 'set', { ...body, chip: target.name, line: findLine(target, line ?? '').name })) as { state: string };
      process.stdout.write(`${data.state}\n`);
      return;
    }
    case 'watch': {
      const [name, lineWord] = positionals;
      // No chip named: every chip's topics, which with one chip are that chip's.
      const target = name === undefined ? undefined : pickChip(chips(), name, 'watch <chip>');
      const watched = target === undefined || lineWord === undefined ? undefined : findLine(target, lineWord).name;
      await remote.watch(settings, target?.name, watched, (text) => process.stdout.write(`${text}\n`), interruptSignal());
      return;
    }
    case 'capture': {
      const options = captureOptions(values, chips());
      const { runCapture } = await import('./capture/run.ts');
      await runCapture(settings, options, interruptSignal(), (text) => process.stderr.write(`${text}\n`));
      return;
    }
    case 'play': {
      const options = playOptions({ ...values, map: lists.map ?? [] }, chips());
      const { runPlay } = await import('./capture/play.ts');
      await runPlay(settings, options, interruptSignal(), (text) => process.stderr.write(`${text}\n`));
      return;
    }
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`vgpio2mqtt: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof UsageError || error instanceof CaptureArgsError || error instanceof DecodeArgsError || error instanceof PlayArgsError || error instanceof ChipLookupError ? 2 : 1);
});
