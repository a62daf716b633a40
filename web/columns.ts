/**
 * Walks a trace's events in the visible window one pixel column at a time:
 * for each column holding events it calls back with the column and the
 * index range of its events. A column with many events is skipped over by
 * binary search, so the cost is O(min(events, columns x log events)): a
 * frame costs little however many edges the window holds.
 */
import type { TraceBuffer } from './trace-buffer.ts';

export function forEachColumn(
  trace: TraceBuffer,
  startMs: number,
  msPerPx: number,
  columns: number,
  visit: (column: number, first: number, last: number) => void,
): void {
  const endMs = startMs + columns * msPerPx;
  let next = trace.indexAt(startMs) + 1;
  const last = trace.indexAt(endMs);
  while (next <= last) {
    const column = Math.floor((trace.time(next) - startMs) / msPerPx);
    const columnEnd = startMs + (column + 1) * msPerPx;
    // Usually the next event is in a later column: no search needed.
    const end = next + 1 <= last && trace.time(next + 1) < columnEnd ? Math.min(last, trace.indexAt(columnEnd - Number.EPSILON * columnEnd)) : next;
    visit(column, next, Math.max(end, next));
    next = Math.max(end, next) + 1;
  }
}
