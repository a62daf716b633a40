/**
 * The layout of bench/RESULTS.md and bench/HISTORY.md. RESULTS.md opens
 * with the goals against the latest full run, a trend table of every
 * recorded run and the run-to-run spread (written by hand, kept as it is),
 * then the latest run whole with any notes written under it. A new run
 * takes its place; the one before moves, with its notes, to the top of
 * HISTORY.md, which keeps every older run whole, newest first.
 */
import { blocks } from './markdown.ts';
import { figuresOf, type RunFigures } from './figures.ts';
import { GOALS, goalText, met } from './goals.ts';

export const GOALS_HEADING = '## Goals against the latest run';
export const TREND_HEADING = '## Trend across the recorded runs';
export const SPREAD_HEADING = '## Run-to-run spread';

export interface ResultsFiles {
  results: string;
  history: string;
}

const INTRO = `# Benchmark results

The latest full run of \`npm run bench\` (bench/main.ts), after the goals
read against it, the trend of every recorded run and how much runs of the
same code vary on this machine. Every ratio is against a baseline measured
in the same run on the same machine. Older runs, whole with their notes,
are in [HISTORY.md](HISTORY.md), newest first.

The bench rewrites this file: a new run becomes the latest, the one before
moves to HISTORY.md with every note written under it (add notes under the
run's own heading, as \`### Notes ...\`), and the goals and trend tables are
rendered again from the runs' tables and the goals in bench/goals.ts. The
run-to-run spread section is written by hand and kept as it is. A partial
run (\`npm run bench:e2e\`) is added below the latest full run and moves with
it.
`;

const HISTORY_INTRO = `# Benchmark history

Every recorded run before the latest of [RESULTS.md](RESULTS.md), whole with
its notes, newest first: \`npm run bench\` moves the run it replaces here,
with the partial runs recorded after it.
`;

const NO_SPREAD = `${SPREAD_HEADING}

Not stated yet: once the same code has run more than once, write here how
much its figures varied between the runs.
`;

/** A block's text ending in one blank line, so that blocks joined read as Markdown paragraphs. */
const paragraph = (text: string): string => `${text.trimEnd()}\n\n`;

export function goalsTable(f: RunFigures): string[] {
  return [
    '| figure | goal | latest | met | where the time goes, when missed |',
    '|---|---|---|---|---|',
    ...GOALS.map((g) => {
      const r = g.read(f);
      const ok = met(g, r);
      const reading = r === undefined ? 'not measured' : (r.detail ?? r.text);
      return `| ${g.figure} | ${goalText(g)} | ${reading} | ${ok === undefined ? '—' : ok ? 'yes' : '**no**'} | ${ok === false ? g.whereTimeGoes(f) : ''} |`;
    }),
  ];
}

export function trendTable(runs: RunFigures[]): string[] {
  const columns = GOALS.filter((g) => g.column !== undefined);
  return [
    `| run | commit | ${columns.map((g) => `${g.column ?? ''} (${goalText(g)})`).join(' | ')} |`,
    `|---|---|${columns.map(() => '---|').join('')}`,
    ...runs.map((f) => `| ${f.date} | ${f.commit === undefined ? '—' : `\`${f.commit}\``} | ${columns.map((g) => g.read(f)?.text ?? '—').join(' | ')} |`),
  ];
}

/** The full runs of `text`, in its order. */
const runsOf = (text: string): RunFigures[] => blocks(text, 2).blocks.flatMap((b) => figuresOf(b.text) ?? []);

/** RESULTS.md for `latest` (a run and the notes under it), with the spread section and the runs of `history`. */
export function renderResults(latest: string, spread: string, history: string): string {
  const runs = [...runsOf(latest), ...runsOf(history)];
  const newest = runs[0];
  const goals =
    newest === undefined
      ? ['No full run recorded yet.']
      : [`The run of ${newest.date}${newest.commit === undefined ? '' : ` (commit \`${newest.commit}\`)`}, below. A miss's note is taken from the run's own baselines where they tell, else from the profiles in the notes of the run named.`, '', ...goalsTable(newest)];
  const trend = [
    `Every full run recorded, newest first (${runs.length}), by the figures of the goals above, each column's goal in its header; \`stalled\`: the Mosquitto flood stopped (its rate until then in brackets, where recorded). The bench and the machine changed between runs (the notes in HISTORY.md say how): read a step in a column against the spread below.`,
    '',
    ...trendTable(runs),
  ];
  return [INTRO, `${GOALS_HEADING}\n\n${goals.join('\n')}\n`, `${TREND_HEADING}\n\n${trend.join('\n')}\n`, spread, latest].map(paragraph).join('').trimEnd() + '\n';
}

/** RESULTS.md cut into the latest run (with whatever was written under it) and the hand-written spread section. */
export function splitResults(results: string): { latest: string; spread: string } {
  let latest = '';
  let spread = NO_SPREAD;
  for (const b of blocks(results, 2).blocks) {
    if (b.heading.startsWith(SPREAD_HEADING)) spread = b.text;
    else if (!b.heading.startsWith(GOALS_HEADING) && !b.heading.startsWith(TREND_HEADING)) latest += b.text;
  }
  return { latest, spread };
}

/**
 * `history` with the blocks of `latest` (RESULTS.md's latest run and the
 * partial runs after it, oldest first) at its top, newest first. Notes
 * under a run's heading are part of its block and move with it.
 */
export function prependHistory(history: string, latest: string): string {
  const moved = blocks(latest, 2).blocks.reverse();
  if (moved.length === 0) return history;
  const { preamble, blocks: older } = blocks(history, 2);
  return [preamble.trim() === '' ? HISTORY_INTRO : preamble, ...[...moved, ...older].map((b) => b.text)].map(paragraph).join('').trimEnd() + '\n';
}

/** The files after a full run: `run` is the latest, what it replaces tops the history. */
export function withNewRun(previous: ResultsFiles, run: string): ResultsFiles {
  const { latest, spread } = splitResults(previous.results);
  const history = prependHistory(previous.history, latest);
  return { results: renderResults(run, spread, history), history };
}

/** The files after a partial run (`npm run bench:e2e`): it follows the latest full run in RESULTS.md. */
export function withPartialRun(previous: ResultsFiles, run: string): ResultsFiles {
  const { latest, spread } = splitResults(previous.results);
  return { results: renderResults(latest.trim() === '' ? run : paragraph(latest) + run, spread, previous.history), history: previous.history };
}
