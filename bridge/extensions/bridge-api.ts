/**
 * The bridge's own topics: `bridge/state` (retained, also the LWT),
 * `bridge/info` (retained), and `bridge/request/<cmd>` answered on
 * `bridge/response/<cmd>` with {status, data, error, transaction}.
 * Commands: `chips` (chips and lines), `get` and `set` (one line),
 * `health`, `trace` (a chip's edges of the last seconds, recent-trace.ts). A request that cannot be understood gets an error response;
 * nothing changes.
 */
import type { Chip } from '../chip/chip.ts';
import { healthReport } from '../metrics/health.ts';
import { parseCommand, quote } from '../mqtt/payload.ts';
import type { RejectReason } from '../metrics/metrics.ts';
import type { Intend, Taking } from '../mqtt/link.ts';
import { Extension } from './extension.ts';
import { qemuArgs, qemuCommand } from '../guest-setup/qemu-args.ts';
import { RecentTrace, RECENT_EDGES, RECENT_MS } from './recent-trace.ts';
import { taking } from './chip-publisher.ts';

/** Longest request payload accepted, in bytes. */
export const MAX_REQUEST_BYTES = 4096;

export const ONLINE = JSON.stringify({ state: 'online' });
export const OFFLINE = JSON.stringify({ state: 'offline' });

type Json = Record<string, unknown>;

class RequestError extends Error {
  /** Set for refused line commands (counted like refused `.../set` commands). */
  readonly reason: RejectReason | undefined;

  constructor(reason: RejectReason | undefined, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** The waveform fields a `set` request may carry instead of a state (payload.ts). */
const WAVE_KEYS = ['pwm', 'pattern', 'bounce'];

export class BridgeApi extends Extension {
  readonly #handlers: Record<string, (request: Json) => unknown> = {
    chips: () => [...this.ctx.chips.values()].map((chip) => this.#chipInfo(chip, true)),
    get: (request) => {
      const { chip, line } = this.#target(request, ['chip', 'line']);
      return { chip: chip.config.name, ...chip.status(line) };
    },
    set: (request) => {
      const { chip, line } = this.#target(request, ['chip', 'line', 'state', 'pulse_ms', ...WAVE_KEYS]);
      this.ctx.signals.emit('command-received', chip.config.name);
      // The command is what the request holds besides chip and line, checked as a `.../set` payload.
      const command: Json = { state: request.state };
      for (const key of ['pulse_ms', ...WAVE_KEYS]) if (key in request) command[key] = request[key];
      // A waveform has no state (parseCommand refuses the two together).
      if (WAVE_KEYS.some((key) => key in request) && !('state' in request)) delete command.state;
      const parsed = parseCommand(JSON.stringify(command), line);
      if (!parsed.ok) throw new RequestError('bad_payload', parsed.error);
      const { taken, done, writing } = taking(this.ctx.topics, chip.config.name, this.#intend);
      this.#taking = done;
      const result = chip.command(line, parsed.value, taken, writing);
      if (!result.ok) throw new RequestError(result.reason, result.error);
      return { chip: chip.config.name, result: result.result, ...chip.status(line) };
    },
    health: () => ({ ...healthReport(this.ctx.mqtt.connected, this.ctx.chips.values()), counters: this.ctx.counters.snapshot() }),
    trace: (request) => {
      const chip = this.#chipOf(request, ['chip']);
      return { chip: chip.config.name, window_ms: RECENT_MS, max_edges: RECENT_EDGES, edges: this.#trace.edges(chip.config.name) ?? [] };
    },
  };
  readonly #trace = new RecentTrace();

  /** What the `set` request being handled waits for before it counts as taken (see ChipPublisher's commands). */
  #taking: Taking | undefined;
  /** The request being handled's way to record a change before it reaches shared memory (the link's journal), if any. */
  #intend: Intend | undefined;

  start(): void {
    for (const chip of this.ctx.chips.values()) this.listen(chip, 'edge', this.#trace.track(chip));
    this.subscribe(this.ctx.topics.requestFilter, (topic, payload, retained, intend) => {
      const target = this.ctx.topics.parse(topic);
      if (target?.kind !== 'request') return undefined;
      if (retained) {
        // Replayed on every (re)subscription: whoever sent it is not waiting for an answer, and a set must not run again.
        this.ctx.signals.emit('request', this.#known(target.command), 'ignored');
        this.ctx.log.warn(`retained request on ${topic} ignored (a replay of an old request; clear it with an empty retained message)`);
        return undefined;
      }
      this.#taking = undefined;
      this.#intend = intend;
      this.#request(target.command, payload);
      return this.#taking;
    });
  }

  override connected(): void {
    this.ctx.publish(this.ctx.topics.bridgeState, ONLINE, true);
    this.ctx.publish(this.ctx.topics.bridgeInfo, JSON.stringify(this.info()), true);
  }

  // stop() is the base's (bridge/state offline is published by the controller as the connection's last message).

  info(): Json {
    const { settings, broker, version } = this.ctx;
    return {
      version,
      base_topic: settings.baseTopic,
      broker,
      web: this.ctx.web,
      log_level: settings.logLevel,
      homeassistant: settings.homeassistant.enabled,
      chips: [...this.ctx.chips.values()].map((chip) => this.#chipInfo(chip, false)),
    };
  }

  #chipInfo(chip: Chip, withStatus: boolean): Json {
    const c = chip.config;
    return {
      name: c.name,
      label: c.label,
      mode: c.mode,
      socket: c.socket,
      agent_socket: c.agentSocket,
      shm: c.shm,
      size: chip.region.mem.size,
      vectors: c.vectors,
      ngpio: c.ngpio,
      online: chip.online,
      // What attaches a guest, for the web page and for `vgpio2mqtt qemu-args` without a configuration.
      attach: { qemu_args: qemuArgs(c), command: qemuCommand(c) },
      lines: c.lines.map((line) =>
        withStatus && chip.failure === undefined
          ? { configured: line.configured, ...chip.status(line) }
          : { line: line.line, name: line.name, direction: line.direction, configured: line.configured, payload_on: line.payloadOn, payload_off: line.payloadOff },
      ),
    };
  }

  /** The chip a request names; `allowed`: the request's fields besides `transaction`. */
  #chipOf(request: Json, allowed: string[]): Chip {
    const unknown = Object.keys(request).filter((k) => k !== 'transaction' && !allowed.includes(k));
    if (unknown.length > 0) throw new RequestError(undefined, `unknown field ${quote(unknown[0] ?? '')}; allowed: ${allowed.join(', ')}, transaction`);
    const chipName = request.chip;
    if (typeof chipName !== 'string') throw new RequestError(undefined, `"chip" must be a chip name (string); chips: ${[...this.ctx.chips.keys()].join(', ')}`);
    const chip = this.ctx.chips.get(chipName);
    if (chip === undefined) throw new RequestError('bad_topic', `no chip ${quote(chipName)}; chips: ${[...this.ctx.chips.keys()].join(', ')}`);
    return chip;
  }

  #target(request: Json, allowed: string[]): { chip: Chip; line: NonNullable<ReturnType<Chip['line']>> } {
    const chip = this.#chipOf(request, allowed);
    if (chip.failure !== undefined) throw new RequestError('chip_offline', `chip ${chip.config.name} failed: ${chip.failure}`);
    const lineName = typeof request.line === 'number' ? String(request.line) : request.line;
    if (typeof lineName !== 'string') throw new RequestError(undefined, '"line" must be a line name or number');
    const line = chip.line(lineName);
    if (line === undefined) throw new RequestError('unknown_line', `chip ${chip.config.name} has no line ${quote(lineName)}`);
    return { chip, line };
  }

  /** The command as a metric label: unknown ones are counted together. */
  #known(command: string): string {
    return Object.hasOwn(this.#handlers, command) ? command : 'unknown';
  }

  #request(command: string, payload: Buffer): void {
    let transaction: unknown;
    let request: Json = {};
    const respond = (response: Json): void => {
      this.ctx.signals.emit('request', this.#known(command), response.status === 'ok' ? 'ok' : 'error');
      this.ctx.publish(this.ctx.topics.response(command), JSON.stringify({ ...response, ...(transaction === undefined ? {} : { transaction }) }), false);
    };
    try {
      if (payload.length > MAX_REQUEST_BYTES) throw new RequestError(undefined, `request is ${payload.length} bytes; at most ${MAX_REQUEST_BYTES} are allowed`);
      const text = payload.toString('utf8').trim();
      if (text !== '') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new RequestError(undefined, `request ${quote(text)} is not valid JSON; send a JSON object (or nothing)`);
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RequestError(undefined, 'a request must be a JSON object');
        request = parsed as Json;
        transaction = request.transaction;
      }
      const handler = Object.hasOwn(this.#handlers, command) ? this.#handlers[command] : undefined;
      if (handler === undefined) throw new RequestError(undefined, `unknown request ${quote(command)}; allowed: ${Object.keys(this.#handlers).join(', ')}`);
      respond({ status: 'ok', data: handler(request) });
    } catch (error) {
      if (!(error instanceof RequestError)) throw error;
      this.ctx.log.warn(`request ${command} refused: ${error.message}`);
      if (error.reason !== undefined && command === 'set') {
        const chip = typeof request.chip === 'string' && this.ctx.chips.has(request.chip) ? request.chip : '';
        this.ctx.signals.emit('command-rejected', chip, error.reason);
      }
      // `reason`: a code to branch on (the refused-command reasons, or `bad_request`); `error`: the words for a person.
      respond({ status: 'error', data: {}, error: error.message, reason: error.reason ?? 'bad_request' });
    }
  }
}
