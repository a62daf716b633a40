/**
 * What `vgpio2mqtt capture` reads from the broker, in one place: the
 * topics of a chip's lines (built by Topics, as the bridge builds them) and
 * the keys of the bridge's `.../edge` payload (docs/topics.md). A change of
 * the topic layout is followed here and nowhere else in bridge/capture/.
 */
import type { KnownLine } from '../cli/known-chips.ts';
import { Topics } from '../mqtt/topics.ts';

/** One edge as the bridge published it. */
export interface EdgeMessage {
  /** The level after the edge (logical, as the line's state: ON = 1). */
  level: 0 | 1;
  source: 'host' | 'guest';
  /** Host wall clock when the bridge saw the edge, ms since the epoch. */
  hostMs: number;
  /** The guest's CLOCK_MONOTONIC of the edge, when the guest's event ring reported it. */
  guestNs?: number;
}

/** The subscriptions a capture of one chip needs, and which line a message is about. */
export class CaptureTopics {
  readonly edges: string;
  readonly states: string;
  readonly bridgeState: string;
  readonly availability: string;
  readonly #edgeLine = new Map<string, number>();
  readonly #stateLine = new Map<string, number>();

  constructor(base: string, chip: string, lines: readonly KnownLine[]) {
    const topics = new Topics(base);
    this.edges = topics.lineFilter('edge', chip);
    this.states = topics.lineFilter('state', chip);
    this.bridgeState = topics.bridgeState;
    this.availability = topics.availability(chip);
    lines.forEach((line, index) => {
      this.#edgeLine.set(topics.edge(chip, line.name), index);
      this.#stateLine.set(topics.state(chip, line.name), index);
    });
  }

  /** The index (in the capture's line list) of the line whose edge topic this is. */
  edgeLine(topic: string): number | undefined {
    return this.#edgeLine.get(topic);
  }

  stateLine(topic: string): number | undefined {
    return this.#stateLine.get(topic);
  }
}

function record(payload: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The bridge's edge payload, or undefined for anything else (a malformed message is skipped, not fatal). */
export function parseEdge(payload: Buffer): EdgeMessage | undefined {
  const edge = record(payload);
  if (edge === undefined) return undefined;
  const hostMs = edge.ts_ms;
  if (edge.edge !== 'rising' && edge.edge !== 'falling') return undefined;
  if (edge.source !== 'host' && edge.source !== 'guest') return undefined;
  if (typeof hostMs !== 'number' || !Number.isFinite(hostMs)) return undefined;
  const message: EdgeMessage = { level: edge.edge === 'rising' ? 1 : 0, source: edge.source, hostMs };
  if (typeof edge.guest_ns === 'number' && Number.isFinite(edge.guest_ns) && edge.guest_ns >= 0) message.guestNs = edge.guest_ns;
  return message;
}

/** A retained line state as a level, by the line's own payloads; undefined when it is neither. */
export function parseState(payload: Buffer, line: KnownLine): 0 | 1 | undefined {
  const text = payload.toString('utf8');
  if (text === line.payloadOn) return 1;
  if (text === line.payloadOff) return 0;
  return undefined;
}

/** The bridge's `bridge/state`: true for online. */
export function bridgeOnline(payload: Buffer): boolean {
  return record(payload)?.state === 'online';
}
