/**
 * Every count and measurement the bridge makes goes through one Stats
 * object: it keeps running totals (for `bridge/request/health` and tests)
 * and forwards each call to the sinks attached to it, such as the
 * Prometheus metrics of bridge/metrics (attach(new BridgeMetrics(...))).
 * Its methods are named and typed like BridgeMetrics', so the metrics
 * exporter attaches without any other file changing.
 */
import type { BridgeMetrics, CommandResult, GuestEventKind, RejectReason, RequestStatus } from './metrics/metrics.ts';

export type { CommandResult, GuestEventKind, RejectReason, RequestStatus };

/** What a sink may implement: any subset of BridgeMetrics' recording methods. */
export type MetricsSink = Partial<
  Pick<
    BridgeMetrics,
    | 'declareChip'
    | 'commandReceived'
    | 'commandApplied'
    | 'commandRejected'
    | 'doorbellRung'
    | 'doorbellReceived'
    | 'interruptRaised'
    | 'guestEvent'
    | 'queueDepth'
    | 'queueOverflow'
    | 'ringDropped'
    | 'ringResync'
    | 'ringInvalid'
    | 'commandToDoorbell'
    | 'doorbellToPublish'
    | 'guestPeers'
    | 'guestBound'
    | 'lineLevel'
    | 'mqttConnected'
    | 'mqttClients'
    | 'mqttMessage'
    | 'headerOverwritten'
    | 'edgePublished'
    | 'request'
  >
>;

type SinkMethod = keyof MetricsSink;
type Args<M extends SinkMethod> = Parameters<NonNullable<MetricsSink[M]>>;

export class Stats {
  readonly #sinks: MetricsSink[] = [];
  readonly #totals = new Map<string, number>();

  attach(sink: MetricsSink): void {
    this.#sinks.push(sink);
  }

  /** Adds `by` to the total `name` (with label values joined by `/`). */
  #add(name: string, by = 1): void {
    this.#totals.set(name, (this.#totals.get(name) ?? 0) + by);
  }

  #forward<M extends SinkMethod>(method: M, ...args: Args<M>): void {
    for (const sink of this.#sinks) {
      const fn = sink[method] as ((...a: Args<M>) => void) | undefined;
      fn?.apply(sink, args);
    }
  }

  /**
   * A running total: `total('commandRejected')`, or narrowed by the leading
   * label values, e.g. `total('commandRejected', 'board', 'bad_payload')`.
   */
  total(name: string, ...labels: string[]): number {
    const prefix = [name, ...labels].join('/');
    let sum = 0;
    for (const [key, value] of this.#totals) if (key === prefix || key.startsWith(`${prefix}/`)) sum += value;
    return sum;
  }

  /** Every total, keyed `name/label/...`. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#totals);
  }

  declareChip(chip: string, lines: readonly string[]): void {
    this.#forward('declareChip', chip, lines);
  }

  commandReceived(chip: string): void {
    this.#add(`commandReceived/${chip}`);
    this.#forward('commandReceived', chip);
  }

  commandApplied(chip: string, result: CommandResult): void {
    this.#add(`commandApplied/${chip}/${result}`);
    this.#forward('commandApplied', chip, result);
  }

  commandRejected(chip: string, reason: RejectReason): void {
    this.#add(`commandRejected/${chip}/${reason}`);
    this.#forward('commandRejected', chip, reason);
  }

  doorbellRung(chip: string): void {
    this.#add(`doorbellRung/${chip}`);
    this.#forward('doorbellRung', chip);
  }

  doorbellReceived(chip: string): void {
    this.#add(`doorbellReceived/${chip}`);
    this.#forward('doorbellReceived', chip);
  }

  interruptRaised(chip: string): void {
    this.#add(`interruptRaised/${chip}`);
    this.#forward('interruptRaised', chip);
  }

  guestEvent(chip: string, kind: GuestEventKind): void {
    this.#add(`guestEvent/${chip}/${kind}`);
    this.#forward('guestEvent', chip, kind);
  }

  queueDepth(chip: string, line: string, depth: number): void {
    this.#forward('queueDepth', chip, line, depth);
  }

  queueOverflow(chip: string, line: string): void {
    this.#add(`queueOverflow/${chip}/${line}`);
    this.#forward('queueOverflow', chip, line);
  }

  ringDropped(chip: string, count: number): void {
    this.#add(`ringDropped/${chip}`, count);
    this.#forward('ringDropped', chip, count);
  }

  ringResync(chip: string): void {
    this.#add(`ringResync/${chip}`);
    this.#forward('ringResync', chip);
  }

  ringInvalid(chip: string, count: number): void {
    this.#add(`ringInvalid/${chip}`, count);
    this.#forward('ringInvalid', chip, count);
  }

  /** Host-owned header words a guest overwrote (and the bridge restored). */
  headerOverwritten(chip: string, words: number): void {
    this.#add(`headerOverwritten/${chip}`, words);
    this.#forward('headerOverwritten', chip, words);
  }

  /** Edges published, by source. */
  edgePublished(chip: string, source: 'host' | 'guest'): void {
    this.#add(`edgePublished/${chip}/${source}`);
    this.#forward('edgePublished', chip, source);
  }

  /** bridge/request answers, by command and status. */
  request(command: string, status: RequestStatus): void {
    this.#add(`request/${command}/${status}`);
    this.#forward('request', command, status);
  }

  commandToDoorbell(chip: string, seconds: number): void {
    this.#forward('commandToDoorbell', chip, seconds);
  }

  doorbellToPublish(chip: string, seconds: number): void {
    this.#forward('doorbellToPublish', chip, seconds);
  }

  guestPeers(chip: string, count: number): void {
    this.#forward('guestPeers', chip, count);
  }

  guestBound(chip: string, bound: boolean): void {
    this.#forward('guestBound', chip, bound);
  }

  lineLevel(chip: string, line: string, level: 0 | 1): void {
    this.#forward('lineLevel', chip, line, level);
  }

  mqttConnected(connected: boolean): void {
    this.#forward('mqttConnected', connected);
  }

  mqttClients(count: number): void {
    this.#forward('mqttClients', count);
  }

  mqttMessage(direction: 'in' | 'out'): void {
    this.#add(`mqttMessage/${direction}`);
    this.#forward('mqttMessage', direction);
  }
}
