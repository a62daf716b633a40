/**
 * A bare QEMU (TCG, no guest OS) with an ivshmem-doorbell device connected
 * to an ivshmem server, driven over QMP on stdio: enough to check what
 * QEMU itself accepts and does, without booting a kernel. SeaBIOS still
 * assigns the PCI BARs, so HMP `xp` can read the device's registers and
 * shared memory.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

interface QmpReply {
  id?: number;
  return?: unknown;
  error?: { desc: string };
  event?: string;
}

export interface PciBars {
  bar0: bigint;
  bar2: bigint;
  bar2Size: bigint;
}

export class QemuPeer {
  readonly exited: Promise<number | null>;
  #qemu: ChildProcessWithoutNullStreams;
  #stderr = '';
  #nextId = 1;
  #pending = new Map<number, { resolve: (reply: QmpReply) => void; reject: (error: Error) => void }>();

  /** `chardev`: extra `-chardev socket` properties, e.g. `reconnect=1`. */
  constructor(socketPath: string, vectors: number, chardev = '') {
    const args = [
      '-accel', 'tcg', '-nodefaults', '-no-user-config', '-display', 'none', '-m', '64',
      '-chardev', `socket,path=${socketPath},id=ivsh${chardev === '' ? '' : `,${chardev}`}`,
      '-device', `ivshmem-doorbell,chardev=ivsh,vectors=${vectors}`,
      '-qmp', 'stdio',
    ];
    this.#qemu = spawn('qemu-system-x86_64', args, { stdio: 'pipe' });
    this.#qemu.stderr.setEncoding('utf8');
    this.#qemu.stderr.on('data', (text: string) => {
      this.#stderr += text;
    });
    this.#qemu.stdin.on('error', () => {
      // QEMU exited; `exited` reports it.
    });
    createInterface({ input: this.#qemu.stdout }).on('line', (line) => {
      const reply = JSON.parse(line) as QmpReply;
      if (reply.id === undefined) return;
      const waiter = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (reply.error !== undefined) waiter?.reject(new Error(`QMP: ${reply.error.desc}`));
      else waiter?.resolve(reply);
    });
    this.exited = new Promise((resolve) => {
      this.#qemu.once('exit', (code) => {
        for (const waiter of this.#pending.values()) waiter.reject(new Error(`QEMU exited: ${this.#stderr}`));
        this.#pending.clear();
        resolve(code);
      });
    });
  }

  /** What QEMU wrote to stderr (its error messages). */
  get stderr(): string {
    return this.#stderr;
  }

  /** Resolves once QEMU's stderr matches (QEMU reports protocol complaints there). */
  async waitForStderr(pattern: RegExp, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.#stderr)) {
      if (Date.now() > deadline) throw new Error(`QEMU's stderr never matched ${String(pattern)}: ${this.#stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async start(): Promise<void> {
    await this.#execute('qmp_capabilities');
  }

  async #execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const id = this.#nextId++;
    const reply = new Promise<QmpReply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
    this.#qemu.stdin.write(`${JSON.stringify({ execute: command, arguments: args, id })}\n`);
    return (await reply).return;
  }

  /** Runs an HMP command (info pci, xp, ...) and returns its text. */
  async hmp(commandLine: string): Promise<string> {
    return String(await this.#execute('human-monitor-command', { 'command-line': commandLine }));
  }

  /** The ivshmem device's BARs, once SeaBIOS has assigned them. */
  async bars(timeoutMs = 30_000): Promise<PciBars> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await this.hmp('info pci');
      const device = info.split(/Bus\s+\d+,/).find((block) => block.includes('1af4:1110')) ?? '';
      const bar = (n: number): RegExpMatchArray | null =>
        new RegExp(`BAR${n}: .*memory at (0x[0-9a-f]+) \\[(0x[0-9a-f]+)\\]`).exec(device);
      const bar0 = bar(0);
      const bar2 = bar(2);
      if (bar0?.[1] !== undefined && bar2?.[1] !== undefined && bar2[2] !== undefined &&
          !bar0[1].startsWith('0xffffffff')) {
        const start2 = BigInt(bar2[1]);
        return { bar0: BigInt(bar0[1]), bar2: start2, bar2Size: BigInt(bar2[2]) - start2 + 1n };
      }
      if (Date.now() > deadline) throw new Error(`ivshmem BARs not assigned:\n${info}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** A 32-bit read of guest-physical memory (MMIO included) through HMP `xp`. */
  async read32(address: bigint): Promise<number> {
    const text = await this.hmp(`xp /1wx 0x${address.toString(16)}`);
    const match = /:\s*(0x[0-9a-f]+)/.exec(text);
    if (match?.[1] === undefined) throw new Error(`unexpected xp output: ${text}`);
    return Number(match[1]);
  }

  async quit(): Promise<number | null> {
    await this.#execute('quit').catch(() => undefined);
    return this.exited;
  }

  kill(): void {
    if (this.#qemu.exitCode === null && this.#qemu.signalCode === null) this.#qemu.kill('SIGKILL');
  }
}
