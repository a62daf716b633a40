/**
 * The logic-analyzer view of one chip: one stepped trace per line on a
 * canvas, drawn by hand (docs/web.md says why not uPlot). Each frame it
 * draws only the visible window: per pixel column one binary search in the
 * line's TraceBuffer, so the cost is O(width x lines x log events) however
 * many edges are buffered; a column holding more than one edge is drawn as
 * a full-height bar, as logic analyzers do. Markers tell sources apart:
 * host edges (blue, below the trace), guest edges (orange, above),
 * `received` confirmations (green ticks), agent edges (purple squares).
 *
 * Live: the window's right edge follows the clock. Wheel zooms around the
 * pointer, dragging pans (and pauses), Pause/Resume freezes and follows
 * again. Clicking near an edge puts cursor A, the next click cursor B; the
 * readout gives B - A.
 */
import { el, setText } from './dom.ts';
import type { ChipModel, LineModel } from './model.ts';
import { forEachColumn } from './columns.ts';
import { Kind, type TraceBuffer } from './trace-buffer.ts';

const LABEL_W = 130;
const LANE_H = 28;
const AXIS_H = 22;
const SNAP_PX = 10;
/** Zoom limits: 10 µs to 10 minutes across the plot. */
export const MIN_SPAN_MS = 0.01;
export const MAX_SPAN_MS = 10 * 60 * 1000;

const COLORS = {
  trace: '#2e7d32',
  busy: '#66bb6a',
  grid: '#e0e0e0',
  text: '#212121',
  [Kind.HOST_EDGE]: '#1565c0',
  [Kind.GUEST_EDGE]: '#ef6c00',
  [Kind.RECEIVED]: '#2e7d32',
  [Kind.AGENT_EDGE]: '#6a1b9a',
  cursor: '#c62828',
} as const;

type MarkerPaths = Record<typeof Kind.HOST_EDGE | typeof Kind.GUEST_EDGE | typeof Kind.RECEIVED | typeof Kind.AGENT_EDGE, Path2D>;

export interface Window {
  startMs: number;
  endMs: number;
}

/** Formats a duration in the unit that suits it. */
export function formatDuration(ms: number): string {
  const a = Math.abs(ms);
  if (a >= 1000) return `${(ms / 1000).toFixed(3)} s`;
  if (a >= 1) return `${ms.toFixed(3)} ms`;
  return `${(ms * 1000).toFixed(1)} µs`;
}

function clockTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export class Waveform {
  readonly root: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  readonly #chip: ChipModel;
  readonly #lines: () => LineModel[];
  readonly #readout: HTMLElement;
  readonly #pause: HTMLButtonElement;
  #spanMs = 10_000;
  /** Right edge of the window while paused; undefined = live. */
  #endMs: number | undefined;
  #cursors: number[] = [];
  #drag: { x: number; endMs: number } | undefined;
  #lastWindow: Window = { startMs: 0, endMs: 0 };

  constructor(chip: ChipModel, lines: () => LineModel[], download: (chip: ChipModel, window: Window | undefined) => void) {
    this.#chip = chip;
    this.#lines = lines;
    this.canvas = el('canvas', { class: 'trace', 'data-chip': chip.name });
    this.#readout = el('span', { class: 'readout' });
    this.#pause = el('button', { type: 'button', 'data-action': 'pause' }, 'Pause');
    this.#pause.addEventListener('click', () => {
      if (this.paused) this.resume();
      else this.pause();
    });
    const button = (label: string, action: () => void): HTMLButtonElement => {
      const b = el('button', { type: 'button', 'data-action': label }, label);
      b.addEventListener('click', action);
      return b;
    };
    const legend = el(
      'span',
      { class: 'legend' },
      el('i', { style: `color:${COLORS[Kind.HOST_EDGE]}` }, '▮ host edge (below)'),
      el('i', { style: `color:${COLORS[Kind.GUEST_EDGE]}` }, '▮ guest edge (above)'),
      el('i', { style: `color:${COLORS[Kind.RECEIVED]}` }, '| received'),
      el('i', { style: `color:${COLORS[Kind.AGENT_EDGE]}` }, '■ agent edge'),
    );
    this.root = el(
      'div',
      { class: 'waveform' },
      el(
        'div',
        { class: 'toolbar' },
        this.#pause,
        button('zoom in', () => { this.zoom(0.5); }),
        button('zoom out', () => { this.zoom(2); }),
        button('VCD (window)', () => { download(chip, this.#lastWindow); }),
        button('VCD (all)', () => { download(chip, undefined); }),
        legend,
        this.#readout,
      ),
      this.canvas,
    );
    this.canvas.addEventListener('wheel', (event) => {
      event.preventDefault();
      this.zoom(event.deltaY > 0 ? 1.25 : 0.8, event.offsetX);
    }, { passive: false });
    this.canvas.addEventListener('mousedown', (event) => {
      this.#drag = { x: event.offsetX, endMs: this.#lastWindow.endMs };
    });
    this.canvas.addEventListener('mousemove', (event) => {
      const drag = this.#drag;
      if (drag === undefined || Math.abs(event.offsetX - drag.x) < 3) return;
      this.#endMs = drag.endMs - ((event.offsetX - drag.x) / this.#plotWidth) * this.#spanMs;
      this.#showPaused();
    });
    this.canvas.addEventListener('mouseup', (event) => {
      const drag = this.#drag;
      this.#drag = undefined;
      if (drag !== undefined && Math.abs(event.offsetX - drag.x) < 3) this.#click(event.offsetX, event.offsetY);
    });
    this.canvas.addEventListener('mouseleave', () => {
      this.#drag = undefined;
    });
  }

  get paused(): boolean {
    return this.#endMs !== undefined;
  }

  get window(): Window {
    return this.#lastWindow;
  }

  get cursors(): readonly number[] {
    return this.#cursors;
  }

  pause(): void {
    this.#endMs = this.#lastWindow.endMs || Date.now();
    this.#showPaused();
  }

  resume(): void {
    this.#endMs = undefined;
    this.#showPaused();
  }

  #showPaused(): void {
    setText(this.#pause, this.paused ? 'Resume' : 'Pause');
  }

  get #plotWidth(): number {
    return Math.max(1, this.canvas.clientWidth - LABEL_W);
  }

  /** Scales the span by `factor`, keeping the time under `x` (default: the right edge) in place. */
  zoom(factor: number, x?: number): void {
    const w = this.#lastWindow;
    const span = Math.min(MAX_SPAN_MS, Math.max(MIN_SPAN_MS, this.#spanMs * factor));
    if (x === undefined || x < LABEL_W || !this.paused) {
      this.#spanMs = span;
      return;
    }
    const at = w.startMs + ((x - LABEL_W) / this.#plotWidth) * this.#spanMs;
    const fraction = (x - LABEL_W) / this.#plotWidth;
    this.#spanMs = span;
    this.#endMs = at + (1 - fraction) * span;
  }

  #click(x: number, y: number): void {
    if (x < LABEL_W) return;
    const lane = Math.floor((y - AXIS_H) / LANE_H);
    const line = this.#lines()[lane];
    const w = this.#lastWindow;
    const toTime = (px: number): number => w.startMs + ((px - LABEL_W) / this.#plotWidth) * (w.endMs - w.startMs);
    let time = toTime(x);
    if (line !== undefined) {
      // Snap to the nearest level change within SNAP_PX.
      const trace = line.trace;
      const i = trace.indexAt(time);
      let best: number | undefined;
      for (const j of [i - 1, i, i + 1, i + 2]) {
        if (j < 1 || j >= trace.length || trace.level(j) === trace.level(j - 1)) continue;
        const t = trace.time(j);
        if (best === undefined || Math.abs(t - time) < Math.abs(best - time)) best = t;
      }
      const pxPerMs = this.#plotWidth / (w.endMs - w.startMs);
      if (best !== undefined && Math.abs(best - time) * pxPerMs <= SNAP_PX) time = best;
    }
    this.#cursors = this.#cursors.length >= 2 ? [time] : [...this.#cursors, time];
    if (!this.paused) this.pause();
  }

  /** Draws the current window; `now` is the host wall clock in ms. */
  render(now: number): void {
    const lines = this.#lines();
    const dpr = globalThis.devicePixelRatio || 1;
    const width = this.canvas.clientWidth;
    const height = AXIS_H + LANE_H * lines.length;
    if (this.canvas.height !== Math.round(height * dpr) || this.canvas.width !== Math.round(width * dpr)) {
      this.canvas.style.height = `${height}px`;
      this.canvas.width = Math.round(width * dpr);
      this.canvas.height = Math.round(height * dpr);
    }
    const ctx = this.canvas.getContext('2d');
    if (ctx === null) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const endMs = this.#endMs ?? now;
    const w: Window = { startMs: endMs - this.#spanMs, endMs };
    this.#lastWindow = w;
    const plotW = this.#plotWidth;
    const xOf = (t: number): number => LABEL_W + ((t - w.startMs) / this.#spanMs) * plotW;
    this.#axis(ctx, w, plotW, height, xOf);
    ctx.font = '12px sans-serif';
    // One path per colour for the whole chip: a fill or stroke per shape would cost more than the rest of the frame.
    const traces = new Path2D();
    const markers: MarkerPaths = { [Kind.HOST_EDGE]: new Path2D(), [Kind.GUEST_EDGE]: new Path2D(), [Kind.RECEIVED]: new Path2D(), [Kind.AGENT_EDGE]: new Path2D() };
    lines.forEach((line, lane) => {
      const top = AXIS_H + lane * LANE_H;
      ctx.fillStyle = COLORS.text;
      ctx.fillText(`${line.number} ${line.name}`.slice(0, 18), 4, top + LANE_H / 2 + 4);
      ctx.strokeStyle = COLORS.grid;
      ctx.beginPath();
      ctx.moveTo(LABEL_W, top + LANE_H - 0.5);
      ctx.lineTo(width, top + LANE_H - 0.5);
      ctx.stroke();
      this.#trace(traces, line.trace, top, plotW, w, now);
      this.#markers(markers, line.trace, top, w, plotW);
    });
    ctx.strokeStyle = COLORS.trace;
    ctx.lineWidth = 1.5;
    ctx.stroke(traces);
    ctx.lineWidth = 1;
    for (const kind of [Kind.HOST_EDGE, Kind.GUEST_EDGE, Kind.RECEIVED, Kind.AGENT_EDGE] as const) {
      ctx.fillStyle = COLORS[kind];
      ctx.fill(markers[kind]);
    }
    ctx.strokeStyle = COLORS.cursor;
    for (const c of this.#cursors) {
      const x = xOf(c);
      if (x < LABEL_W || x > width) continue;
      ctx.beginPath();
      ctx.moveTo(x + 0.5, AXIS_H);
      ctx.lineTo(x + 0.5, height);
      ctx.stroke();
    }
    const [a, b] = this.#cursors;
    setText(
      this.#readout,
      a === undefined ? 'click an edge to place cursor A' : b === undefined ? `A ${clockTime(a)} — click another edge for B` : `A ${clockTime(a)}  B ${clockTime(b)}  Δ ${formatDuration(b - a)}`,
    );
  }

  #axis(ctx: CanvasRenderingContext2D, w: Window, plotW: number, height: number, xOf: (t: number) => number): void {
    // About one tick per 100 px, on a 1-2-5 step.
    const raw = (this.#spanMs / plotW) * 100;
    const exp = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * exp).find((s) => s >= raw) ?? raw;
    ctx.font = '11px sans-serif';
    ctx.fillStyle = COLORS.text;
    ctx.strokeStyle = COLORS.grid;
    for (let t = Math.ceil(w.startMs / step) * step; t <= w.endMs; t += step) {
      const x = Math.round(xOf(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, AXIS_H - 4);
      ctx.lineTo(x, height);
      ctx.stroke();
      ctx.fillText(step >= 1000 ? clockTime(t).slice(0, 8) : step >= 1 ? clockTime(t) : formatDuration(t - w.startMs), x + 2, 12);
    }
    ctx.fillText(`span ${formatDuration(this.#spanMs)}${this.paused ? ' (paused)' : ' (live)'}`, 4, 12);
  }

  /** The stepped trace: a vertex per level change, a full-height bar where a column holds several changes. */
  #trace(ctx: Path2D, trace: TraceBuffer, top: number, plotW: number, w: Window, now: number): void {
    const hi = top + 5;
    const lo = top + LANE_H - 6;
    const msPerPx = this.#spanMs / plotW;
    const columns = Math.max(0, Math.min(plotW, Math.floor((Math.min(w.endMs, now) - w.startMs) / msPerPx)));
    const before = trace.indexAt(w.startMs);
    let y: number | undefined = before < 0 ? undefined : trace.level(before) === 1 ? hi : lo;
    if (y !== undefined) ctx.moveTo(LABEL_W, y);
    forEachColumn(trace, w.startMs, msPerPx, columns, (column, first, last) => {
      const x = LABEL_W + column;
      const ny = trace.level(last) === 1 ? hi : lo;
      if (y === undefined) {
        ctx.moveTo(x, ny);
      } else if (last > first && (trace.level(first) !== trace.level(first - 1) || trace.level(last) !== trace.level(first))) {
        // Several events, level changes among them: a full-height bar, as logic analyzers draw a busy line.
        ctx.lineTo(x, y);
        ctx.moveTo(x, hi);
        ctx.lineTo(x, lo);
        ctx.moveTo(x, ny);
      } else if (ny !== y) {
        ctx.lineTo(x, y);
        ctx.lineTo(x, ny);
      }
      y = ny;
    });
    if (y !== undefined) ctx.lineTo(LABEL_W + columns, y);
  }

  /** Edge markers: per pixel column, one of each kind found among its first 16 events, added to that kind's path. */
  #markers(paths: MarkerPaths, trace: TraceBuffer, top: number, w: Window, plotW: number): void {
    const msPerPx = this.#spanMs / plotW;
    forEachColumn(trace, w.startMs, msPerPx, plotW, (column, first, last) => {
      let kinds = 0;
      for (let j = first; j <= last && j < first + 16; j += 1) kinds |= 1 << trace.kind(j);
      const x = LABEL_W + column;
      // Rectangles only: closing a triangle per edge in a shared path cost more than the whole rest of a frame.
      if ((kinds & (1 << Kind.HOST_EDGE)) !== 0) paths[Kind.HOST_EDGE].rect(x - 1, top + LANE_H - 5, 3, 4);
      if ((kinds & (1 << Kind.GUEST_EDGE)) !== 0) paths[Kind.GUEST_EDGE].rect(x - 1, top, 3, 4);
      if ((kinds & (1 << Kind.RECEIVED)) !== 0) paths[Kind.RECEIVED].rect(x, top + 2, 1, LANE_H - 4);
      if ((kinds & (1 << Kind.AGENT_EDGE)) !== 0) paths[Kind.AGENT_EDGE].rect(x - 2, top + LANE_H / 2 - 2, 5, 5);
    });
  }

  /** The chip this view draws. */
  get chip(): ChipModel {
    return this.#chip;
  }
}
