/**
 * `npm run demo [-- --port N] [--web-port N] [--host ADDR] [--arch arm64]`: a whole
 * vgpio2mqtt setup in one command (see docs/quickstart.md). Prints what to type in another
 * terminal, then the guest's console (gpiomon's events) until Ctrl-C,
 * which stops everything and leaves nothing behind.
 */
import { parseArgs } from 'node:util';
import { parseGuestArch, type GuestArch } from '../testkit/arch.ts';
import { surviveClosedOutput } from '../bridge/log.ts';
import { READY_MARKER } from '../testkit/initramfs.ts';
import { withoutCommandMarkers } from '../testkit/guest.ts';
import { BLINK_S, CHIP, DemoSession, LINES } from './session.ts';

const USAGE = 'usage: npm run demo [-- --port <tcp port, default 1883>] [--web-port <web view port, default 8080, 0: any>] [--host <address, default 127.0.0.1>] [--arch <x86_64 (default) or arm64>]';

function options(): { host: string; port: number; webPort: number; arch: GuestArch } {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: '1883' },
        'web-port': { type: 'string', default: '8080' },
        host: { type: 'string', default: '127.0.0.1' },
        arch: { type: 'string', default: 'x86_64' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    process.stderr.write(`demo: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    process.stderr.write(`demo: --port must be a TCP port (1..65535), got ${values.port}\n${USAGE}\n`);
    process.exit(2);
  }
  const webPort = Number(values['web-port']);
  if (!Number.isInteger(webPort) || webPort < 0 || webPort > 65535) {
    process.stderr.write(`demo: --web-port must be a TCP port (0..65535, 0 picks a free one), got ${values['web-port']}\n${USAGE}\n`);
    process.exit(2);
  }
  let arch: GuestArch;
  try {
    arch = parseGuestArch(values.arch);
  } catch (error) {
    process.stderr.write(`demo: --arch: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  return { host: values.host, port, webPort, arch };
}

const say = (text: string): void => {
  process.stdout.write(`demo: ${text}\n`);
};

// `npm run demo 2>&1 | tee log` then Ctrl-C: tee is gone before we clean up.
surviveClosedOutput();
const { host, port, webPort, arch } = options();
// Ctrl-C while starting: finish the current step, undo everything, exit.
const starting = new AbortController();
const abortStart = (signal: string): void => {
  if (starting.signal.aborted) {
    // A second Ctrl-C: leave now (the guest harness still kills QEMU on exit).
    process.exit(130);
  }
  say(`${signal}: stopping as soon as the current step is done (again to quit at once)`);
  starting.abort(new Error(`interrupted by ${signal}`));
};
process.on('SIGINT', abortStart).on('SIGTERM', abortStart);
let session: DemoSession;
try {
  session = await DemoSession.start({ host, port, webPort, arch, logLevel: 'info' }, say, starting.signal);
} catch (error) {
  if (starting.signal.aborted) {
    say('stopped before the guest was ready; nothing left behind');
    process.exit(130);
  }
  const message = (error as Error).message;
  process.stderr.write(`demo: cannot start: ${message}\n`);
  if (message.includes('EADDRINUSE')) process.stderr.write(`demo: port ${port} or ${webPort} is taken (another MQTT broker or web server?); try npm run demo -- --port 1884 --web-port 8081\n`);
  process.exit(1);
}

const pub = `mosquitto_pub -h ${host} -p ${port}`;
const topics = session.controller.topics;
const button = topics.set(CHIP, 'button');
process.stdout.write(`
The guest is up: vgpio.ko is loaded, vgpio-agent watches line ${LINES.button} (button) and reports
its edges over MQTT, gpiomon watches line ${LINES.switch} (switch), and the guest blinks line ${LINES.led} (led)
every ${BLINK_S} s.

Watch it as a waveform in a browser: ${session.controller.webServer?.url ?? '(web view off)'}

Or in another terminal:

  mosquitto_sub -h ${host} -p ${port} -v -t '${topics.chipFilter(CHIP)}'      # states, edges, the led blinking
  ${pub} -t ${button} -m '{"state":"ON","pulse_ms":500}'   # a 500 ms press
  ${pub} -t ${button} -m ON                 # hold it: button/edge (the bridge's), button/received
                                                     # (the guest took it), button/agent/edge (the agent's)
  ${pub} -t ${button} -m OFF                # release it
  ${pub} -t ${topics.set(CHIP, 'switch')} -m TOGGLE             # gpiomon below prints the edge

Ctrl-C stops the guest, the bridge and the broker and removes every file the demo made.
The guest's console follows.

`);

// Everything the guest prints after its shell came up, line by line.
let printed = session.guest.console.text.indexOf(READY_MARKER) + READY_MARKER.length + 1;
const follow = setInterval(() => {
  const text = session.guest.console.text;
  const end = text.lastIndexOf('\n') + 1;
  if (end <= printed) return;
  // Without the harness's framing of the commands it ran (Guest.run), which say nothing to a reader.
  for (const line of withoutCommandMarkers(text.slice(printed, end)).split('\n').slice(0, -1)) process.stdout.write(`guest | ${line}\n`);
  printed = end;
}, 100);

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  clearInterval(follow);
  say(`${signal}: stopping the guest, the bridge and the broker`);
  session.stop().then(
    () => {
      say('stopped; nothing left behind');
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`demo: stopping failed: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
};
process.off('SIGINT', abortStart).off('SIGTERM', abortStart);
process.on('SIGINT', () => { stop('SIGINT'); });
process.on('SIGTERM', () => { stop('SIGTERM'); });
