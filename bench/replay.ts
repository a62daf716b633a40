/**
 * The replay round trip (issue 24): a capture of a played trace is played
 * again and captured again; both captures must hold the same edges in the
 * same order on every line, and the second's spacing of its edges is
 * compared with the first's (the inter-edge timing error). Everything runs
 * as users run it: `vgpio2mqtt capture` and `vgpio2mqtt play` processes
 * against the bridge of a ReplayRig.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readVcd } from '../bridge/capture/vcd-reader.ts';
import { toVcd, type VcdChange } from '../bridge/capture/vcd.ts';
import { runCli, startCapture } from '../testkit/capture-cli.ts';
import { CHIP, ReplayRig } from './replay-rig.ts';
import { summarize, type Summary } from './samples.ts';

export interface RoundTrip {
  /** Edges in each capture (when they are the same). */
  edges: number;
  /** Undefined when both captures hold the same edges in the same order; else the first difference. */
  mismatch: string | undefined;
  /** |gap in the second capture - gap in the first| over consecutive edges, in ms. */
  errorMs: Summary;
  /** The same, signed (second - first), for the p50's direction. */
  signedMs: Summary;
}

/**
 * A trace on lines a and b: `toggles` edges at gaps from 5 to 45 ms on
 * lines picked irregularly, then the edges that bring both lines home to 0
 * (their level at time 0), so it can be played again from where it ends.
 */
export function sourceVcd(toggles: number): string {
  const changes: VcdChange[] = [];
  const level: [0 | 1, 0 | 1] = [0, 0];
  let seed = 12345;
  let t = 20e6;
  const toggle = (line: 0 | 1): void => {
    level[line] = level[line] === 1 ? 0 : 1;
    changes.push({ timeNs: t, signal: line, level: level[line] });
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    t += (5 + (seed % 41)) * 1e6;
  };
  for (let i = 0; i < toggles; i++) toggle(seed % 3 === 0 ? 1 : 0);
  for (const line of [0, 1] as const) if (level[line] === 1) toggle(line);
  return toVcd([{ name: 'a', initial: 0 }, { name: 'b', initial: 0 }], changes, { scope: CHIP, endNs: t });
}

/** Plays `file` while capturing lines a and b into `out`; resolves with the capture's VCD text. */
async function captureWhilePlaying(rig: ReplayRig, file: string, out: string): Promise<string> {
  const capture = await startCapture(rig.config, ['--chip', CHIP, '--lines', 'a,b', '--out', out]);
  const played = await runCli(rig.config, 'play', ['--in', file, '--chip', CHIP]);
  if (played.code !== 0) throw new Error(`play --in ${file} ended with ${played.code}: ${played.stderr}`);
  // The capture is a subscriber of its own: give it ample time to receive the last edges before stopping it.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  capture.kill('SIGINT');
  const code = await capture.exited;
  if (code !== 0) throw new Error(`capture ended with ${code}: ${capture.stderr()}`);
  return readFileSync(out, 'utf8');
}

const edgeList = (text: string): { key: string; timeNs: number }[] => {
  const trace = readVcd(text);
  return trace.changes.map((c) => ({ key: `${trace.signals[c.signal]?.name ?? '?'}=${c.level}`, timeNs: c.timeNs }));
};

/** capture(play(source)) -> first; capture(play(first)) -> second; compares the two. */
export async function roundTrip(rig: ReplayRig, edges: number, tell: (text: string) => void = () => undefined): Promise<RoundTrip> {
  const source = join(rig.dir, 'source.vcd');
  writeFileSync(source, sourceVcd(edges));
  const firstFile = join(rig.dir, 'first.vcd');
  const first = edgeList(await captureWhilePlaying(rig, source, firstFile));
  tell(`replay: first capture holds ${first.length} edge(s)`);
  const second = edgeList(await captureWhilePlaying(rig, firstFile, join(rig.dir, 'second.vcd')));
  tell(`replay: second capture holds ${second.length} edge(s)`);
  const at = first.findIndex((e, i) => e.key !== second[i]?.key);
  const mismatch = at >= 0 || first.length !== second.length ? `edge ${at < 0 ? Math.min(first.length, second.length) : at}: first ${first[at]?.key ?? 'none'}, second ${second[at < 0 ? first.length : at]?.key ?? 'none'} (${first.length} and ${second.length} edges)` : undefined;
  const signed = first.slice(1).map((e, i) => ((second[i + 1]?.timeNs ?? 0) - (second[i]?.timeNs ?? 0) - (e.timeNs - (first[i]?.timeNs ?? 0))) / 1e6);
  return { edges: first.length, mismatch, errorMs: summarize(signed.map(Math.abs)), signedMs: summarize(signed) };
}

/** The round trip in a guest of its own (the benchmark's section 8). */
export async function replayFigures(toggles: number): Promise<RoundTrip> {
  const rig = await ReplayRig.start();
  try {
    return await roundTrip(rig, toggles);
  } finally {
    await rig.close();
  }
}

/** Section 8 of a run, also the body of `npm run bench:replay`'s partial run. */
export function replaySection(r: RoundTrip, toggles: number): string[] {
  const f = (v: number): string => v.toFixed(2);
  return [
    `### 9. Replay round trip (a ${toggles}-toggle trace on two input lines of a TCG guest)`,
    '',
    'A trace (gaps of 5 to 45 ms) is played with `vgpio2mqtt play` while `vgpio2mqtt capture` records it; that capture is played again and captured again (bench/replay.ts). Same edges: both captures hold the same edges in the same order on every line. Inter-edge error: how much each gap between consecutive edges of the second capture differs from the same gap in the first, in ms (host edges are stamped in whole milliseconds, so 1 ms is the resolution).',
    '',
    '| edges | same edges | inter-edge error p50 | p90 | p99 | signed p50 |',
    '|---|---|---|---|---|---|',
    `| ${r.edges} | ${r.mismatch === undefined ? 'yes' : `**no**: ${r.mismatch}`} | ${f(r.errorMs.p50)} ms | ${f(r.errorMs.p90)} ms | ${f(r.errorMs.p99)} ms | ${f(r.signedMs.p50)} ms |`,
    '',
  ];
}
