/**
 * The page's VCD download: the levels of a chip's lines in a window (or
 * the whole buffer) through the same writer `vgpio2mqtt capture` uses
 * (bridge/capture/vcd.ts). Time 0 is the window's start on the host wall
 * clock (named in the header's comment); markers that do not change a
 * level (received, agent edges) are not in the dump.
 */
import { toVcd, type VcdChange } from '../bridge/capture/vcd.ts';
import type { LineModel } from './model.ts';

export interface ExportWindow {
  startMs: number;
  endMs: number;
}

export function chipVcd(chip: string, lines: readonly LineModel[], window: ExportWindow | undefined, now: number): string {
  const oldest = Math.min(...lines.map((l) => l.trace.oldest ?? Infinity));
  const startMs = window?.startMs ?? (Number.isFinite(oldest) ? oldest : now);
  const endMs = Math.min(window?.endMs ?? now, now);
  const changes: VcdChange[] = [];
  lines.forEach((line, signal) => {
    const trace = line.trace;
    for (let i = Math.max(0, trace.indexAt(startMs) + 1); i < trace.length; i += 1) {
      const t = trace.time(i);
      if (t > endMs) break;
      changes.push({ timeNs: (t - startMs) * 1e6, signal, level: trace.level(i) });
    }
  });
  // Stable: equal times keep each line's own order.
  changes.sort((a, b) => a.timeNs - b.timeNs);
  const signals = lines.map((line) => {
    const initial = line.trace.levelAt(startMs);
    return initial === undefined ? { name: line.name } : { name: line.name, initial };
  });
  return toVcd(signals, changes, {
    scope: chip,
    date: new Date(startMs),
    endNs: Math.max(0, (endMs - startMs) * 1e6),
    comment: `vgpio2mqtt web view, chip ${chip}: time 0 is ${new Date(startMs).toISOString()} on the host wall clock (ts_ms); guest-only timestamps are placed on it through the offset of edges stamped on both clocks`,
  });
}
