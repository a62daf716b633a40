/**
 * `vgpio2mqtt play`: plays a VCD's changes onto input lines through the
 * running bridge, with the file's timing (docs/replay.md). Each change is a
 * set request of the TypeScript client (client/), answered by the bridge,
 * so a played edge is a normal host edge: published, counted, in captures.
 *
 * Timing: every change has a deadline on the monotonic clock
 * (performance.now()) counted from the start of the play, so a late timer
 * or a slow answer delays that edge only and never accumulates into drift.
 * Changes are sent one after another, each after the bridge answered the
 * one before, so their order is kept on every line and across lines.
 * Stopped (Ctrl-C), a play sends nothing more: every line keeps the level
 * it was last played.
 */
import { serverList } from '../mqtt/server.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type Line, type Vgpio } from '../../client/index.ts';
import type { Settings } from '../settings/types.ts';
import { remoteServer, request } from '../cli/remote.ts';
import { PlayArgsError, type PlayOptions } from './play-options.ts';

export interface PlaySummary {
  /** Changes sent (set requests answered). */
  edges: number;
  /** Complete passes through the file. */
  passes: number;
  /** How late each change was sent after its deadline, in ms. */
  lateMs: number[];
  stopped: 'end' | 'signal';
}

/** Resolves at `deadline` (a performance.now() time) or when `signal` aborts; false if aborted. */
async function until(deadline: number, signal: AbortSignal): Promise<boolean> {
  const wait = deadline - performance.now();
  if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
  return !signal.aborted;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** `p50 0.4 ms, p99 2.1 ms, max 3.0 ms` of the lateness figures. */
export function latenessText(lateMs: readonly number[]): string {
  if (lateMs.length === 0) return 'no edges';
  const sorted = [...lateMs].sort((a, b) => a - b);
  const ms = (v: number): string => `${v.toFixed(2)} ms`;
  return `p50 ${ms(percentile(sorted, 50))}, p99 ${ms(percentile(sorted, 99))}, max ${ms(sorted[sorted.length - 1] ?? 0)}`;
}

/** Plays `options` until the file ends (or, with --loop, until `signal` aborts). */
export async function play(vgpio: Vgpio, options: PlayOptions, signal: AbortSignal, tell: (text: string) => void): Promise<PlaySummary> {
  const { trace, targets, speed } = options;
  const lines = new Map<number, Line>(targets.map((t) => [t.signal, vgpio.chip(t.chip).line(t.line.name)]));
  const summary: PlaySummary = { edges: 0, passes: 0, lateMs: [], stopped: 'end' };
  const played = new Map<number, 0 | 1>();
  const send = async (index: number, level: 0 | 1, deadline: number): Promise<boolean> => {
    if (!(await until(deadline, signal))) return false;
    const line = lines.get(index);
    if (line === undefined) return true;
    summary.lateMs.push(performance.now() - deadline);
    await line.set(level);
    played.set(index, level);
    summary.edges += 1;
    return true;
  };
  const passMs = trace.endNs / 1e6 / speed;
  const start = performance.now();
  tell(`play: playing ${trace.changes.filter((c) => lines.has(c.signal)).length} change(s) of ${options.file} onto ${targets.map((t) => `${t.chip}/${t.line.name}`).join(', ')} over ${(passMs / 1000).toFixed(3)} s${options.loop ? ', looped' : ''}`);
  for (let pass = 0; ; pass++) {
    const passStart = start + pass * passMs;
    // Each pass starts from the file's levels at time 0 (an unknown one leaves its line as it is).
    for (const target of targets) {
      const initial = trace.signals[target.signal]?.initial;
      if (initial === undefined || initial === 'x' || played.get(target.signal) === initial) continue;
      if (!(await send(target.signal, initial, passStart))) return { ...summary, stopped: 'signal' };
    }
    for (const change of trace.changes) {
      if (!lines.has(change.signal) || change.level === 'x') continue;
      if (!(await send(change.signal, change.level, passStart + change.timeNs / 1e6 / speed))) return { ...summary, stopped: 'signal' };
    }
    summary.passes += 1;
    // A pass of no length would loop without waiting: play it once.
    if (!options.loop || passMs <= 0) break;
  }
  return summary;
}

/**
 * The configuration says which lines the guest drives (play-options.ts
 * refuses those); a line configured as an input that the guest has
 * requested as an output now is found by asking the bridge (`get`: the
 * line's direction as the guest set it), before anything is played.
 */
async function refuseGuestDriven(settings: Settings, options: PlayOptions): Promise<void> {
  const driven: string[] = [];
  for (const target of options.targets) {
    const data = (await request(settings, 'get', { chip: target.chip, line: target.line.name })) as { direction?: string };
    if (data.direction === 'output') driven.push(`${target.chip}/${target.line.name}`);
  }
  if (driven.length > 0) throw new PlayArgsError(`nothing was played: the guest drives ${driven.join(', ')} now (requested as an output); play only drives input lines (leave a signal out with --map SIGNAL=-)`);
}

/** Runs `vgpio2mqtt play`: connects as the CLI does, plays, prints a summary. */
export async function runPlay(settings: Settings, options: PlayOptions, signal: AbortSignal, tell: (text: string) => void): Promise<PlaySummary> {
  await refuseGuestDriven(settings, options);
  const vgpio = await connect({
    // With a list of brokers (a cluster's nodes), the first: they share the bridge's topics.
    url: serverList(remoteServer(settings))[0] ?? '',
    baseTopic: settings.baseTopic,
    ...(settings.mqtt.username === '' ? {} : { username: settings.mqtt.username }),
    ...(settings.mqtt.password === '' ? {} : { password: settings.mqtt.password }),
  });
  try {
    const summary = await play(vgpio, options, signal, tell);
    const how = summary.stopped === 'signal' ? 'stopped by a signal; every line keeps the level it was last played' : 'the file ended';
    tell(`play: sent ${summary.edges} change(s) in ${summary.passes} complete pass(es) (${how}); lateness against the file's timing: ${latenessText(summary.lateMs)}`);
    return summary;
  } finally {
    await vgpio.close();
  }
}
