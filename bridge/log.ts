/**
 * Leveled one-line logs: `<ISO time> <level> <scope>: <message>`, written
 * to stderr so stdout stays free for command output (qemu-args, get,
 * watch). One line per event worth knowing; nothing multi-line.
 */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogSink = (line: string) => void;

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export class Logger {
  readonly #level: LogLevel;
  readonly #scope: string;
  readonly #sink: LogSink;

  constructor(level: LogLevel, scope = 'bridge', sink: LogSink = (line) => process.stderr.write(`${line}\n`)) {
    this.#level = level;
    this.#scope = scope;
    this.#sink = sink;
  }

  /** The same logger with another scope (e.g. `chip board`). */
  child(scope: string): Logger {
    return new Logger(this.#level, scope, this.#sink);
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] <= RANK[this.#level];
  }

  #write(level: LogLevel, message: string): void {
    if (!this.enabled(level)) return;
    // One event, one line: embedded newlines (e.g. from an error message) are flattened.
    const text = message.replace(/\s*\n\s*/g, ' | ');
    this.#sink(`${new Date().toISOString()} ${level.padEnd(5)} ${this.#scope}: ${text}`);
  }

  error(message: string): void {
    this.#write('error', message);
  }

  warn(message: string): void {
    this.#write('warn', message);
  }

  info(message: string): void {
    this.#write('info', message);
  }

  debug(message: string): void {
    this.#write('debug', message);
  }
}

/**
 * Keeps the process alive when whoever reads its output goes away
 * (`vgpio2mqtt start 2>&1 | head -c 100`, or `| tee log` and Ctrl-C): a
 * write to the closed pipe fails with EPIPE, which, unhandled, would end
 * the process before it removes its sockets. Nothing can be reported on a
 * closed stream, so its errors are dropped.
 */
export function surviveClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', () => undefined);
  }
}
