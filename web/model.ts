/**
 * What the page knows, built only from MQTT messages under the base topic
 * (the documented topics, docs/topics.md): chips and their availability,
 * each line's guest configuration, level, pending/queued and its trace.
 * No DOM here, so it is tested under Node.
 */
import { GuestClock } from './clock.ts';
import { Kind, TraceBuffer } from './trace-buffer.ts';
import { Topics } from '../bridge/mqtt/topics.ts';

export interface LineModel {
  number: number;
  name: string;
  /** What the bridge's configuration expects: input = host-driven (the page offers buttons). */
  expected: 'input' | 'output';
  /** The guest's direction and trigger, from `.../config`. */
  direction: string | undefined;
  trigger: string | undefined;
  level: 0 | 1 | undefined;
  /** The payload last seen on the state topic. */
  state: string | undefined;
  /** State payloads for ON and OFF, learnt from bridge/response/chips (default ON/OFF). */
  payloads: { on: string; off: string };
  pending: boolean | undefined;
  queued: number | undefined;
  trace: TraceBuffer;
  /** Edges seen on this page, by kind (host, guest, received, agent). */
  counts: Record<'host' | 'guest' | 'received' | 'agent', number>;
}

export interface ChipModel {
  name: string;
  availability: string | undefined;
  agent: string | undefined;
  /** How to attach a guest, from bridge/info (shown while the chip is offline). */
  attach: { qemuArgs: string[]; command: string } | undefined;
  /** Whether the bridge's recent edges (bridge/response/trace) were loaded into the traces. */
  historyLoaded: boolean;
  /** By line name (the topic level). */
  lines: Map<string, LineModel>;
}

export interface BridgeEventEntry {
  timeMs: number;
  text: string;
}

export interface ModelOptions {
  base: string;
  /** Events kept per line (a power of two). */
  capacity?: number;
  now?: () => number;
}

type Json = Record<string, unknown>;

function json(payload: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(payload);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}

/** What tells an edge apart in both the live `.../edge` messages and bridge/response/trace. */
function edgeKey(line: string, edge: Json): string {
  return `${line}/${String(edge.source)}/${String(edge.seq)}/${String(edge.ts_ms)}`;
}

const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export class PageModel {
  readonly base: string;
  readonly topics: Topics;
  readonly chips = new Map<string, ChipModel>();
  readonly clock = new GuestClock();
  bridgeState: string | undefined;
  /** Last bridge events (refused commands and shared-memory problems), newest last, at most 50. */
  readonly events: BridgeEventEntry[] = [];
  /** Answers to this page's own requests, by transaction. */
  readonly #waiting = new Map<string, (response: Json) => void>();
  readonly #capacity: number | undefined;
  /** Since collectLive(), per chip whose history is not loaded yet: the edges seen live (line/source/seq/ts_ms). */
  readonly #liveSince = new Map<string, Set<string>>();
  #collecting = false;
  readonly #now: () => number;
  /** Called after every message that changed something a view shows. */
  changed: (chip: string | undefined) => void = () => undefined;
  /** Called for each edge on `.../edge` with the line and the bridge's seq (for the bench's lag figures). */
  edgeSeen: (chip: string, line: string, seq: number) => void = () => undefined;

  constructor(options: ModelOptions) {
    this.base = options.base;
    this.topics = new Topics(options.base);
    this.#capacity = options.capacity;
    this.#now = options.now ?? Date.now;
  }

  /** The topic filter the page subscribes to. */
  get filter(): string {
    return this.topics.all;
  }

  chip(name: string): ChipModel {
    let chip = this.chips.get(name);
    if (chip === undefined) {
      chip = { name, availability: undefined, agent: undefined, attach: undefined, historyLoaded: false, lines: new Map() };
      this.chips.set(name, chip);
    }
    return chip;
  }

  line(chipName: string, name: string, number?: number): LineModel {
    const chip = this.chip(chipName);
    let line = chip.lines.get(name);
    if (line === undefined) {
      const n = number ?? (/^\d+$/.test(name) ? Number(name) : -1);
      line = {
        number: n,
        name,
        expected: 'input',
        direction: undefined,
        trigger: undefined,
        level: undefined,
        state: undefined,
        payloads: { on: 'ON', off: 'OFF' },
        pending: undefined,
        queued: undefined,
        trace: new TraceBuffer(this.#capacity),
        counts: { host: 0, guest: 0, received: 0, agent: 0 },
      };
      chip.lines.set(name, line);
    } else if (number !== undefined) {
      line.number = number;
    }
    return line;
  }

  /** Lines of a chip in line-number order. */
  linesOf(chip: ChipModel): LineModel[] {
    return [...chip.lines.values()].sort((a, b) => a.number - b.number);
  }

  /** Waits for the bridge's answer to a request this page sent with `transaction`. */
  expect(transaction: string, resolve: (response: Json) => void): void {
    this.#waiting.set(transaction, resolve);
  }

  forget(transaction: string): void {
    this.#waiting.delete(transaction);
  }

  /**
   * Called once the page's subscription is granted, before it asks for the
   * chips' recent edges: the live edges from now on are remembered, so
   * loadTrace leaves them out of the history instead of drawing them twice.
   */
  collectLive(): void {
    this.#collecting = true;
  }

  /**
   * bridge/response/trace's data: the chip's edges from before this page
   * subscribed go in front of each line's trace, except those already seen
   * live (same line, source, seq and ts_ms).
   */
  loadTrace(data: unknown): void {
    const body = typeof data === 'object' && data !== null ? (data as Json) : {};
    const chipName = str(body.chip);
    if (chipName === undefined || !Array.isArray(body.edges)) return;
    const chip = this.chip(chipName);
    if (chip.historyLoaded) return;
    const live = this.#liveSince.get(chipName) ?? new Set();
    this.#liveSince.delete(chipName);
    const history = new Map<LineModel, { time: number; level: 0 | 1; kind: Kind }[]>();
    for (const e of body.edges as Json[]) {
      const name = str(e.line);
      const tsMs = num(e.ts_ms);
      if (name === undefined || tsMs === undefined || (e.edge !== 'rising' && e.edge !== 'falling')) continue;
      if (live.has(edgeKey(name, e))) continue;
      const guest = e.source === 'guest';
      const line = this.line(chipName, name);
      line.counts[guest ? 'guest' : 'host'] += 1;
      const events = history.get(line) ?? [];
      events.push({ time: tsMs, level: e.edge === 'rising' ? 1 : 0, kind: guest ? Kind.GUEST_EDGE : Kind.HOST_EDGE });
      history.set(line, events);
    }
    for (const [line, events] of history) {
      // The live events stay after the history: a new buffer gets both, in time order.
      const old = line.trace;
      line.trace = new TraceBuffer(this.#capacity);
      for (const event of events) line.trace.push(event.time, event.level, event.kind);
      for (let i = 0; i < old.length; i += 1) line.trace.push(old.time(i), old.level(i), old.kind(i));
      line.level ??= events.at(-1)?.level;
    }
    chip.historyLoaded = true;
    this.changed(chipName);
  }

  handle(topic: string, payload: string): void {
    const parsed = this.topics.parse(topic);
    if (parsed === undefined) return;
    switch (parsed.kind) {
      case 'bridge-state':
        this.bridgeState = str(json(payload)?.state);
        break;
      case 'bridge-info':
        this.#info(json(payload));
        break;
      case 'bridge-event':
      case 'response': {
        const body = json(payload);
        if (body === undefined) return;
        if (parsed.kind === 'response') this.#response(parsed.command, body);
        else this.#event(body);
        break;
      }
      case 'request':
      case 'set':
      case 'agent-lineinfo':
        return;
      case 'availability':
        this.chip(parsed.chip).availability = payload;
        this.changed(parsed.chip);
        return;
      case 'agent':
        this.chip(parsed.chip).agent = payload;
        this.changed(parsed.chip);
        return;
      case 'state':
      case 'config':
      case 'edge':
      case 'received':
      case 'agent-edge':
        this.#line(parsed.kind, parsed.chip, parsed.line, payload);
        this.changed(parsed.chip);
        return;
    }
    this.changed(undefined);
  }

  #line(kind: 'state' | 'config' | 'edge' | 'received' | 'agent-edge', chip: string, line: string, payload: string): void {
    if (kind === 'state') this.#state(chip, line, payload);
    else if (kind === 'config') this.#config(chip, line, payload);
    else if (kind === 'edge') this.#edge(chip, line, payload);
    else if (kind === 'received') this.#received(chip, line, payload);
    else this.#agentEdge(chip, line, payload);
  }

  /** An answer on bridge/response/<command>: the chips' levels, or a request of this page's. */
  #response(command: string, body: Json): void {
    const transaction = str(body.transaction);
    if (command === 'chips' && body.status === 'ok') this.#chips(body.data);
    const resolve = transaction === undefined ? undefined : this.#waiting.get(transaction);
    if (resolve !== undefined && transaction !== undefined) {
      this.#waiting.delete(transaction);
      resolve(body);
    }
  }

  #event(body: Json): void {
    const type = str(body.type) ?? 'event';
    const where = str(body.topic) ?? str(body.chip) ?? '';
    this.events.push({ timeMs: this.#now(), text: `${type}${where === '' ? '' : ` ${where}`}: ${str(body.message) ?? ''}` });
    if (this.events.length > 50) this.events.shift();
  }

  #info(body: Json | undefined): void {
    const chips = body?.chips;
    if (!Array.isArray(chips)) return;
    for (const c of chips as Json[]) {
      const name = str(c.name);
      if (name === undefined) continue;
      const chip = this.chip(name);
      const attach = typeof c.attach === 'object' && c.attach !== null ? (c.attach as Json) : undefined;
      const command = str(attach?.command);
      const args = attach?.qemu_args;
      if (command !== undefined && Array.isArray(args)) chip.attach = { command, qemuArgs: args.filter((a): a is string => typeof a === 'string') };
      // Retained availability messages say it better; this is for a bridge that has not published them yet.
      if (chip.availability === undefined && typeof c.online === 'boolean') chip.availability = c.online ? 'online' : 'offline';
      if (!Array.isArray(c.lines)) continue;
      for (const l of c.lines as Json[]) {
        const lineName = str(l.name);
        const number = num(l.line);
        if (lineName === undefined || number === undefined) continue;
        const line = this.line(name, lineName, number);
        if (l.direction === 'input' || l.direction === 'output') line.expected = l.direction;
      }
    }
  }

  /** bridge/response/chips: levels, payloads and the pending/queued counts no topic carries. */
  #chips(data: unknown): void {
    if (!Array.isArray(data)) return;
    for (const c of data as Json[]) {
      const chipName = str(c.name);
      if (chipName === undefined || !Array.isArray(c.lines)) continue;
      for (const l of c.lines as Json[]) {
        const name = str(l.name);
        const number = num(l.line);
        if (name === undefined || number === undefined) continue;
        const line = this.line(chipName, name, number);
        if (l.expected === 'input' || l.expected === 'output') line.expected = l.expected;
        if (typeof l.pending === 'boolean') line.pending = l.pending;
        const queued = num(l.queued);
        if (queued !== undefined) line.queued = queued;
        const state = str(l.state);
        if (state !== undefined && (l.level === 0 || l.level === 1)) line.payloads[l.level === 1 ? 'on' : 'off'] = state;
      }
      this.changed(chipName);
    }
  }

  #state(chipName: string, name: string, payload: string): void {
    const line = this.line(chipName, name);
    line.state = payload;
    const level = payload === line.payloads.on ? 1 : payload === line.payloads.off ? 0 : undefined;
    if (level === undefined || level === line.level) return;
    // The state topic can move without an edge (first retained value, a debounced output): the trace follows it.
    line.level = level;
    line.trace.push(this.#now(), level, Kind.STATE);
  }

  #config(chipName: string, name: string, payload: string): void {
    const body = json(payload);
    if (body === undefined) return;
    const line = this.line(chipName, name, num(body.line));
    line.direction = str(body.direction);
    line.trigger = str(body.trigger);
    const expected = body.expected_direction;
    if (expected === 'input' || expected === 'output') line.expected = expected;
  }

  #edge(chipName: string, name: string, payload: string): void {
    const body = json(payload);
    if (body === undefined || (body.edge !== 'rising' && body.edge !== 'falling')) return;
    const line = this.line(chipName, name);
    const level = body.edge === 'rising' ? 1 : 0;
    const tsMs = num(body.ts_ms);
    const guestNs = num(body.guest_ns);
    if (tsMs !== undefined && guestNs !== undefined) this.clock.observe(tsMs, guestNs);
    const guest = body.source === 'guest';
    if (this.#collecting && !this.chip(chipName).historyLoaded) {
      const seen = this.#liveSince.get(chipName) ?? new Set();
      seen.add(edgeKey(name, body));
      this.#liveSince.set(chipName, seen);
    }
    line.level = level;
    line.counts[guest ? 'guest' : 'host'] += 1;
    line.trace.push(tsMs ?? this.#now(), level, guest ? Kind.GUEST_EDGE : Kind.HOST_EDGE);
    const seq = num(body.seq);
    if (seq !== undefined) this.edgeSeen(chipName, name, seq);
  }

  #received(chipName: string, name: string, payload: string): void {
    const body = json(payload);
    if (body === undefined) return;
    const line = this.line(chipName, name);
    line.counts.received += 1;
    line.trace.push(num(body.ts_ms) ?? this.#now(), line.level ?? 0, Kind.RECEIVED);
  }

  #agentEdge(chipName: string, name: string, payload: string): void {
    const body = json(payload);
    if (body === undefined) return;
    const line = this.line(chipName, name);
    const guestNs = num(body.guest_ns);
    const now = this.#now();
    line.counts.agent += 1;
    line.trace.push(guestNs === undefined ? now : this.clock.toHost(guestNs, now), line.level ?? 0, Kind.AGENT_EDGE);
  }
}
