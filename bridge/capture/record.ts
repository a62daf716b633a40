/**
 * Records a chip's edges from MQTT, as `vgpio2mqtt watch` sees them: the
 * bridge's `.../edge` messages of both sources, and each line's retained
 * state for its level at the start.
 */
import type { Settings } from '../settings/types.ts';
import { Logger } from '../log.ts';
import { connect, connected, RemoteError, REMOTE_TIMEOUT_MS } from '../cli/remote.ts';
import { bridgeOnline, CaptureTopics, parseEdge, parseState } from './layout.ts';
import type { CaptureOptions } from './options.ts';
import type { TimedEdge } from './timebase.ts';

export type StopReason = 'signal' | 'duration' | 'count';

export interface Recording {
  /** Host wall clock when the subscriptions started, and when the recording stopped. */
  startMs: number;
  endMs: number;
  /** Per line: its retained state when that came before the line's first edge, else the level before that edge. */
  initial: (0 | 1 | undefined)[];
  edges: TimedEdge[];
  /** Edges to the level their line already had: an edge between them never reached us. */
  repeated: number;
  stopped: StopReason;
}

/** What a capture tells its user while it runs. */
export interface RecordEvents {
  /** Recording runs (for the "Ctrl-C to stop" hint). */
  started: () => void;
  /** Something that explains missing edges: the bridge or the chip went offline, or came back. */
  note: (text: string) => void;
}

/**
 * Resolves when the bridge's retained `bridge/state` says online; a missing
 * or offline bridge is an error. Later changes are noted.
 */
function bridgeUp(mqtt: ReturnType<typeof connect>, topic: string, base: string, note: (text: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let up: boolean | undefined;
    const timer = setTimeout(() => {
      reject(new RemoteError(`no bridge state on ${topic} within ${REMOTE_TIMEOUT_MS} ms (is vgpio2mqtt running with base topic ${base}?)`));
    }, REMOTE_TIMEOUT_MS);
    mqtt
      .subscribeNow(topic, (_topic, payload) => {
        clearTimeout(timer);
        const online = bridgeOnline(payload);
        if (up === undefined) {
          if (online) resolve();
          else reject(new RemoteError(`the bridge is offline (${topic}: ${payload.toString('utf8')}); start vgpio2mqtt first`));
        } else if (online !== up) {
          note(online ? 'the bridge is back online' : 'the bridge went offline: no edges until it is back');
        }
        up = online;
      })
      .catch((error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      });
  });
}

/**
 * Records until `signal` aborts, `options.durationMs` has passed since the
 * bridge was found online, or `options.count` edges arrived.
 */
export async function record(settings: Settings, options: CaptureOptions, signal: AbortSignal, events: RecordEvents, log = new Logger('error', 'cli')): Promise<Recording> {
  const { chip, lines } = options;
  const topics = new CaptureTopics(settings.baseTopic, chip.name, lines);
  const initial: (0 | 1 | undefined)[] = lines.map(() => undefined);
  const current: (0 | 1 | undefined)[] = lines.map(() => undefined);
  const edges: TimedEdge[] = [];
  let repeated = 0;
  let stop: ((why: StopReason) => void) | undefined;
  const stopped = new Promise<StopReason>((resolve) => {
    stop = (why) => {
      stop = undefined;
      resolve(why);
    };
  });

  const mqtt = connect(settings, log);
  try {
    await connected(mqtt, settings);
    const startMs = Date.now();
    // Edges first, states next: a state that arrives after its line's first edge is older than that edge.
    await mqtt.subscribeNow(topics.edges, (topic, payload) => {
      const signalIndex = topics.edgeLine(topic);
      const edge = parseEdge(payload);
      if (stop === undefined || signalIndex === undefined || edge === undefined) return;
      const before = current[signalIndex];
      if (before === undefined) initial[signalIndex] = edge.level === 1 ? 0 : 1;
      else if (before === edge.level) repeated += 1;
      current[signalIndex] = edge.level;
      edges.push({ signal: signalIndex, level: edge.level, hostMs: edge.hostMs, ...(edge.guestNs === undefined ? {} : { guestNs: edge.guestNs }) });
      if (options.count !== undefined && edges.length >= options.count) stop('count');
    });
    await mqtt.subscribeNow(topics.states, (topic, payload, retained) => {
      const signalIndex = topics.stateLine(topic);
      const line = signalIndex === undefined ? undefined : lines[signalIndex];
      if (!retained || signalIndex === undefined || line === undefined || current[signalIndex] !== undefined) return;
      const level = parseState(payload, line);
      initial[signalIndex] = level;
      current[signalIndex] = level;
    });
    let chipOnline: boolean | undefined;
    await mqtt.subscribeNow(topics.availability, (_topic, payload) => {
      const online = payload.toString('utf8') === 'online';
      const was = chipOnline;
      chipOnline = online;
      // Said at the start only when offline; later, every change.
      if (was === undefined ? online : was === online) return;
      events.note(online ? `chip ${chip.name} is online` : `chip ${chip.name} is offline (no guest with its driver bound): no edges until it is online`);
    });
    await bridgeUp(mqtt, topics.bridgeState, settings.baseTopic, events.note);

    const onAbort = (): void => stop?.('signal');
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort);
    const timer = options.durationMs === undefined ? undefined : setTimeout(() => stop?.('duration'), options.durationMs);
    events.started();
    const why = await stopped;
    const endMs = Date.now();
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    return { startMs, endMs, initial, edges, repeated, stopped: why };
  } finally {
    await mqtt.close();
  }
}
