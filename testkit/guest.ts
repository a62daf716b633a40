/**
 * Boots a Linux guest under QEMU (TCG) for a test: busybox initramfs built
 * from the cached Debian kernel, serial console on stdio, and a shell the
 * test drives command by command. x86_64 (QEMU's pc machine) by default;
 * `arch: 'aarch64'` boots the arm64 kernel on QEMU's virt board with the
 * same API. One boot is meant to be shared by the
 * tests of a file (boot in `before`, close in `after`); QEMU is killed and
 * temp files removed on close and, as a last resort, when the process exits.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archProfile, consoleDevice, type GuestArch } from './arch.ts';
import { ConsoleLog } from './console.ts';
import { buildInitramfs, READY_MARKER, type InitramfsOptions } from './initramfs.ts';
import { guestKernel, type GuestKernel } from './kernel.ts';
import { qemuBuild, type QemuBuild, type QemuVersion } from './qemu-builds.ts';

export interface GuestOptions extends Omit<InitramfsOptions, 'kernel'> {
  /** The guest's architecture; default x86_64. */
  arch?: GuestArch;
  /** The QEMU version to run (see qemu-builds.ts); default $VGPIO_QEMU for x86_64, else Debian 12's 7.2. */
  qemu?: QemuVersion | undefined;
  /** QEMU's -cpu model; default: the architecture's (see ArchProfile.defaultCpu). */
  cpu?: string | undefined;
  /** Kernel version or prefix (see guestKernel); default: Debian 12's 6.1. */
  kernelVersion?: string;
  /** Extra QEMU arguments: -device, -chardev, -object, ... */
  qemuArgs?: string[];
  memoryMiB?: number;
  /** vCPUs (-smp); default 1, QEMU's own default. Under TCG the count changes what is atomic: see docs/protocol.md. */
  cpus?: number;
  /** Extra kernel command-line words. */
  append?: string;
  bootTimeoutMs?: number;
}

export interface RunResult {
  output: string;
  code: number;
}

/** Kernel wait channels (/proc/PID/wchan) of a process asleep waiting for input. */
const WAITING_FOR_INPUT = ['do_sys_poll', 'do_select', 'ep_poll', 'do_wait_intr'];

const live = new Set<Guest>();
process.on('exit', () => {
  // Last resort when a test file dies without its `after` hook running.
  for (const guest of live) guest.killNow();
});

/** The lines run() frames each command's output with (the second one followed by the exit status). */
const beginMarker = (id: number): string => `__VGPIO_BEGIN_${id}__`;
const endMarker = (id: number): string => `__VGPIO_END_${id}__`;
/** Both markers as whole lines, the end one with its exit status. */
const MARKER_LINE = /__VGPIO_(?:BEGIN_\d+__|END_\d+__ \d+)\n?/g;

/** Console text without run()'s framing lines, for people reading it (the demo prints the console). */
export function withoutCommandMarkers(text: string): string {
  return text.replace(MARKER_LINE, '');
}

export class Guest {
  readonly console = new ConsoleLog();
  readonly kernel: GuestKernel;
  readonly qemu: QemuBuild;
  readonly workDir: string;
  #qemu: ChildProcessWithoutNullStreams | undefined;
  #exited: Promise<unknown> = Promise.resolve();
  #commands: Promise<unknown> = Promise.resolve();
  #nextCommand = 0;
  #closed = false;

  private constructor(kernel: GuestKernel, qemu: QemuBuild, workDir: string) {
    this.kernel = kernel;
    this.qemu = qemu;
    this.workDir = workDir;
  }

  /** Builds the initramfs, starts QEMU and resolves once the guest shell is ready. */
  static async boot(options: GuestOptions = {}): Promise<Guest> {
    const kernel = guestKernel(options.kernelVersion, options.arch);
    const qemu = qemuBuild(kernel.arch, archProfile(kernel.arch).qemu, options.qemu);
    const guest = new Guest(kernel, qemu, mkdtempSync(join(tmpdir(), 'vgpio-guest-')));
    live.add(guest);
    try {
      const initrd = buildInitramfs(guest.workDir, { ...options, kernel });
      guest.#start(initrd, options);
      await guest.console.waitFor(new RegExp(`^${READY_MARKER}$`, 'm'), options.bootTimeoutMs ?? 120_000);
      return guest;
    } catch (error) {
      await guest.close();
      throw error;
    }
  }

  /** The guest's serial console device (/dev/ttyS0, /dev/ttyAMA0), for commands that print to the console. */
  get tty(): string {
    return consoleDevice(this.kernel.arch);
  }

  #start(initrd: string, options: GuestOptions): void {
    const profile = archProfile(this.kernel.arch);
    const append = [`console=${profile.console}`, 'panic=-1', 'loglevel=4', 'rdinit=/init', options.append ?? ''].join(' ');
    const args = [
      ...this.qemu.args,
      ...profile.machine(options.cpu ?? profile.defaultCpu),
      '-accel', 'tcg',
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-m', String(options.memoryMiB ?? 256), '-smp', String(options.cpus ?? 1),
      '-serial', 'stdio',
      '-kernel', this.kernel.vmlinuz,
      '-initrd', initrd,
      '-append', append.trim(),
      ...(options.qemuArgs ?? []),
    ];
    const qemu = spawn(this.qemu.binary, args, { stdio: 'pipe' });
    this.#qemu = qemu;
    this.console.attach(qemu.stdout);
    qemu.stderr.setEncoding('utf8');
    qemu.stderr.on('data', (text: string) => {
      this.console.append(`[qemu stderr] ${text}`);
    });
    qemu.stdin.on('error', () => {
      // QEMU exited while we were writing; the exit handler reports it.
    });
    this.#exited = new Promise<void>((resolve) => {
      qemu.once('exit', (code, signal) => {
        this.console.close(`QEMU exited (${signal ?? `code ${String(code)}`})`);
        resolve();
      });
      qemu.once('error', (error) => {
        this.console.close(`cannot run ${this.qemu.binary}: ${error.message} (run scripts/setup.sh)`);
        resolve();
      });
    });
  }

  /** Writes raw text to the guest's console. */
  write(text: string): void {
    if (this.#qemu === undefined || this.#closed) throw new Error('guest is not running');
    this.#qemu.stdin.write(text);
  }

  /**
   * Runs a shell command line in the guest and resolves with its output
   * (stdout and stderr) and exit code. Commands run one at a time.
   */
  run(command: string, timeoutMs = 60_000): Promise<RunResult> {
    const id = ++this.#nextCommand;
    const task = this.#commands.then(async () => {
      const begin = beginMarker(id);
      const end = endMarker(id);
      const done = this.console.waitFor(new RegExp(`${begin}\\n([\\s\\S]*?)${end} (\\d+)\\n`), timeoutMs);
      // One line, the command base64-encoded: the guest evaluates line by line,
      // and $? must be the command's status, whatever characters it holds.
      // In a subshell, so the jobs it starts in the background are not the
      // reading shell's children: twice a job's exit (SIGCHLD) while the
      // shell read the next line seemed to mangle that line (seen in the
      // doorbell tests, not reproduced on purpose).
      const encoded = Buffer.from(command).toString('base64');
      this.write(`echo ${begin}; (eval "$(echo ${encoded} | base64 -d)"); echo ${end} $?\n`);
      const match = await done;
      return { output: match[1] ?? '', code: Number(match[2]) };
    });
    this.#commands = task.catch(() => undefined);
    return task;
  }

  /** Runs a command that must succeed; resolves with its output. */
  async exec(command: string, timeoutMs?: number): Promise<string> {
    const { output, code } = await this.run(command, timeoutMs);
    if (code !== 0) throw new Error(`guest command failed with exit code ${code}: ${command}\n${output}`);
    return output;
  }

  /**
   * Resolves once every running process named `program` sleeps waiting for
   * input (poll, select, epoll, or a blocking read of a GPIO line request).
   *
   * A GPIO monitor is ready only then, and the host seeing the line's
   * interrupt enabled is not enough: gpiolib-cdev enables the interrupt
   * inside the line-request ioctl and sets the line's edge flags only after
   * that, and its thread drops every edge that comes in between (6.1 and
   * 6.12 alike). Under load a host burst fits in that window.
   */
  async untilWaitingForInput(program: string, timeoutMs = 30_000): Promise<void> {
    if (!/^[\w.-]+$/.test(program)) throw new Error(`not a program name: ${program}`);
    const tries = Math.ceil(timeoutMs / 50);
    const script = [
      `n=0; while [ $n -lt ${tries} ]; do`,
      `  found=0; waiting=1`,
      `  for p in $(pidof ${program}); do`,
      `    found=1`,
      `    case "$(cat /proc/$p/wchan 2>/dev/null)" in ${WAITING_FOR_INPUT.join('|')}) ;; *) waiting=0 ;; esac`,
      `  done`,
      `  [ $found = 1 ] && [ $waiting = 1 ] && exit 0`,
      `  n=$((n + 1)); usleep 50000`,
      `done`,
      `pids=$(pidof ${program}); [ -z "$pids" ] && echo 'not running'`,
      `for p in $pids; do echo "$p in $(cat /proc/$p/wchan 2>/dev/null)"; done; exit 1`,
    ].join('\n');
    const { output, code } = await this.run(script, timeoutMs + 10_000);
    if (code !== 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${program} to wait for input: ${output.trim().split('\n').join(', ')}`);
  }

  /** Stops QEMU (SIGTERM, then SIGKILL) and removes the guest's temp files. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const qemu = this.#qemu;
    if (qemu?.exitCode === null && qemu.signalCode === null) {
      qemu.kill('SIGTERM');
      const timer = setTimeout(() => qemu.kill('SIGKILL'), 3000);
      await this.#exited;
      clearTimeout(timer);
    }
    rmSync(this.workDir, { recursive: true, force: true });
    live.delete(this);
  }

  /** Synchronous cleanup for process exit. */
  killNow(): void {
    const qemu = this.#qemu;
    if (qemu?.exitCode === null) qemu.kill('SIGKILL');
    rmSync(this.workDir, { recursive: true, force: true });
  }

  /** Resolves when QEMU has exited (for tests that make the guest power off). */
  async exited(): Promise<void> {
    await this.#exited;
  }
}
