/**
 * One demo session: vgpio.ko built for the cached guest kernel and
 * vgpio-agent built from agent/ (for an x86_64 or an arm64 guest), the bridge (in this process) with its
 * embedded broker and a server-mode chip "demo", and a TCG guest attached
 * to it that loads the driver, runs the agent on the button line (its edge
 * messages reach the embedded broker over virtio-serial), watches the switch
 * line with gpiomon and blinks the LED line. stop() takes everything down
 * and removes every file the session made.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../bridge/settings/load.ts';
import { Controller } from '../bridge/controller.ts';
import { stopServer } from '../bridge/chip/server-process.ts';
import { Logger, type LogLevel } from '../bridge/log.ts';
import { qemuArgs } from '../bridge/guest-setup/qemu-args.ts';
import { buildAgent } from '../testkit/agent.ts';
import { consoleDevice, type GuestArch } from '../testkit/arch.ts';
import { Guest } from '../testkit/guest.ts';
import { guestKernel } from '../testkit/kernel.ts';
import { buildVgpio, type ModuleBuild } from '../testkit/build-module.ts';
import { GPIOD_TOOLS, until } from '../testkit/vgpio-host.ts';

export const CHIP = 'demo';
export const LINES = { button: 0, led: 1, switch: 2 } as const;
/** Seconds between two changes of the blinking LED. */
export const BLINK_S = 2;

export interface DemoOptions {
  host: string;
  port: number;
  /** Port of the web view (0: any free port; the URL is in controller.webServer). */
  webPort: number;
  arch: GuestArch;
  logLevel: LogLevel;
}

/** What the guest runs once the driver is loaded: the agent, gpiomon and a blinker, writing to the console `tty`. */
function guestCommands(tty: string): string[] {
  const chip = `$(gpiodetect | grep '\\[${CHIP}\\]' | cut -d' ' -f1)`;
  return [
    'insmod /vgpio.ko',
    `chip=${chip}`,
    `vgpio-agent --watch ${CHIP}:button > ${tty} 2>&1 &`,
    `gpiomon $chip ${LINES.switch} > ${tty} 2>&1 &`,
    `(while true; do gpioset $chip ${LINES.led}=1; sleep ${BLINK_S}; gpioset $chip ${LINES.led}=0; sleep ${BLINK_S}; done) > ${tty} 2>&1 &`,
  ];
}

export class DemoSession {
  readonly dir: string;
  readonly controller: Controller;
  readonly guest: Guest;
  readonly #module: ModuleBuild;
  #stopping: Promise<void> | undefined;

  private constructor(dir: string, module: ModuleBuild, controller: Controller, guest: Guest) {
    this.dir = dir;
    this.#module = module;
    this.controller = controller;
    this.guest = guest;
  }

  /**
   * Starts it all. An abort (Ctrl-C while starting) takes effect when the
   * current step ends (booting the guest takes the longest): what was started
   * is stopped and removed, and the abort reason is thrown.
   */
  static async start(options: DemoOptions, say: (text: string) => void, signal?: AbortSignal): Promise<DemoSession> {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-demo-'));
    const undo: (() => Promise<void> | void)[] = [() => { rmSync(dir, { recursive: true, force: true }); }];
    try {
      const kernel = guestKernel(undefined, options.arch);
      say(`building vgpio.ko for the ${options.arch} guest kernel ${kernel.version}, and vgpio-agent`);
      const module = buildVgpio(kernel.headersDir, options.arch);
      undo.push(module.remove);
      const { agent } = buildAgent(options.arch);
      signal?.throwIfAborted();

      const config = join(dir, 'config.yaml');
      writeFileSync(
        config,
        `log_level: ${options.logLevel}
broker: { host: ${options.host}, port: ${options.port} }
# Off: a second bridge (or demo) on this machine would want the same port.
metrics: { port: null }
# The live web view (docs/web.md): the URL is printed once the guest is up.
web: { host: ${options.host}, port: ${options.webPort} }
homeassistant: { enabled: false }
chips:
  - name: ${CHIP}
    socket: ${dir}/${CHIP}.sock
    shm: ${dir}/${CHIP}.shm
    # The guest agent's virtio-serial port: the bridge hands it to its broker.
    agent_socket: ${dir}/agent.sock
    ngpio: 8
    lines:
      - { line: ${LINES.button}, name: button }
      - { line: ${LINES.led}, name: led, direction: output }
      - { line: ${LINES.switch}, name: switch }
`,
      );
      const settings = loadSettings({ args: ['-c', config], env: {} });
      const chipConfig = settings.chips[0];
      if (chipConfig === undefined) throw new Error('the demo configuration has no chip');
      say(`starting the bridge with its embedded MQTT broker on ${options.host}:${options.port}`);
      const controller = await Controller.start(settings, { log: new Logger(options.logLevel) });
      // The chip's ivshmem server outlives the bridge (for guests); the demo's goes with it.
      undo.push(() => stopServer(`${dir}/${CHIP}.sock`).then(() => undefined));
      undo.push(() => controller.stop());
      signal?.throwIfAborted();

      // The chip's ivshmem device and the agent's virtio-serial port, as `vgpio2mqtt qemu-args` prints them.
      const args = qemuArgs(chipConfig);
      say(`booting a TCG guest (${options.arch}) with: ${args.join(' ')}`);
      const guest = await Guest.boot({
        arch: options.arch,
        modules: ['virtio_pci', 'virtio_console'],
        binaries: GPIOD_TOOLS,
        files: [
          { dest: '/vgpio.ko', src: module.ko, mode: 0o644 },
          { dest: '/usr/bin/vgpio-agent', src: agent, mode: 0o755 },
        ],
        qemuArgs: args,
        initCommands: guestCommands(consoleDevice(options.arch)),
      });
      undo.push(() => guest.close());
      signal?.throwIfAborted();
      const chip = controller.chips.get(CHIP);
      const button = chip?.line('button');
      if (chip === undefined || button === undefined) throw new Error('the demo chip is missing');
      await until('the guest driver and the agent', () => chip.online && chip.status(button).irq.enabled, 30_000);
      // An edge that comes while a monitor is still requesting its line is lost: wait until both watch.
      await guest.untilWaitingForInput('gpiomon');
      await guest.untilWaitingForInput('vgpio-agent');
      return new DemoSession(dir, module, controller, guest);
    } catch (error) {
      for (const step of undo.reverse()) await step();
      throw error;
    }
  }

  /** Stops QEMU, the bridge, its ivshmem server process and its broker; removes the module build and the session folder. Safe to call twice. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.guest.close();
      await this.controller.stop();
      await stopServer(join(this.dir, `${CHIP}.sock`));
      this.#module.remove();
      rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.#stopping;
  }
}
