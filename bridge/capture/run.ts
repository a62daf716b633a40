/**
 * `vgpio2mqtt capture`: records a chip's edges and writes them as one VCD
 * file (docs/capture.md). The output is opened before recording starts, so
 * a path that cannot be written fails at once instead of after the capture;
 * a capture that fails removes it again rather than leave an empty file.
 */
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import type { Settings } from '../settings/types.ts';
import { CaptureArgsError, type CaptureOptions } from './options.ts';
import { record, type Recording } from './record.ts';
import { toTimeline, type Timeline } from './timebase.ts';
import { toVcd } from './vcd.ts';
import { decodedText, decodeFile } from './decode.ts';

/** The VCD text of a recording: line names as signal names, one timebase (timebase.ts). */
export function recordingVcd(options: CaptureOptions, recording: Recording, timeline: Timeline): string {
  const signals = options.lines.map((line, i) => {
    const initial = recording.initial[i];
    return initial === undefined ? { name: line.name } : { name: line.name, initial };
  });
  const offsets = timeline.guestOffsetsNs.length === 0 ? 'none seen' : timeline.guestOffsetsNs.map((o) => `${o} ns`).join(', then ');
  const comment = `vgpio2mqtt capture of chip ${options.chip.name}: time 0 is ${new Date(timeline.originMs).toISOString()} on the host's wall clock; host edges at ts_ms, guest edges at guest_ns + the guest's offset (per guest boot: ${offsets})`;
  return toVcd(signals, timeline.changes, { comment, date: new Date(timeline.originMs), scope: options.chip.name, endNs: timeline.endNs });
}

function openOutput(out: string): number | 'stdout' {
  if (out === '-') return 'stdout';
  try {
    return openSync(out, 'w', 0o644);
  } catch (error) {
    throw new CaptureArgsError(`cannot write --out ${JSON.stringify(out)}: ${(error as Error).message}`);
  }
}

async function writeStdout(text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    process.stdout.write(text, (error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

/** Runs one capture; `tell` gets the progress lines (stderr, so `--out -` stays a clean VCD). */
export async function runCapture(settings: Settings, options: CaptureOptions, signal: AbortSignal, tell: (text: string) => void): Promise<void> {
  const output = openOutput(options.out);
  let written = false;
  let closed = false;
  try {
    const until = [options.durationMs === undefined ? undefined : `${options.durationMs} ms`, options.count === undefined ? undefined : `${options.count} edges`]
      .filter((x) => x !== undefined)
      .concat('Ctrl-C')
      .join(' or ');
    const recording = await record(settings, options, signal, {
      started: () => {
        tell(`capture: recording ${options.lines.length} line(s) of chip ${options.chip.name} until ${until}`);
      },
      note: (text) => {
        tell(`capture: ${text}`);
      },
    });
    const timeline = toTimeline(recording.edges, recording.startMs, recording.endMs);
    const vcd = recordingVcd(options, recording, timeline);
    if (output === 'stdout') await writeStdout(vcd);
    else writeSync(output, vcd);
    written = true;
    const seconds = ((recording.endMs - recording.startMs) / 1000).toFixed(1);
    tell(`capture: wrote ${recording.edges.length} edge(s) on ${options.lines.length} line(s) over ${seconds} s to ${options.out === '-' ? 'stdout' : options.out} (stopped by ${recording.stopped})`);
    if (recording.repeated > 0) tell(`capture: ${recording.repeated} edge(s) repeated their line's level, so as many edges between them never arrived; the file shows the levels that did`);
    if (options.decode !== undefined) {
      closeSync(output as number);
      closed = true;
      process.stdout.write(`${decodedText(options.decode, await decodeFile(options.decode, options.out))}\n`);
    }
  } finally {
    if (output !== 'stdout') {
      if (!closed) closeSync(output);
      if (!written) unlinkSync(options.out);
    }
  }
}
