/**
 * The little Markdown bench/RESULTS.md and bench/HISTORY.md need: cutting a
 * file at its headings and reading pipe tables. Hand-written because the
 * blocks must move between the files as written (bench/results-file.ts
 * only evens out the blank lines at a block's end): a Markdown parser's
 * tree, printed again, would reformat the notes people write under a run.
 */

/** A heading and everything up to the next heading of its level. */
export interface Block {
  /** The heading line itself, e.g. `## Run of 2026-12-07T02:55:01.106Z`. */
  heading: string;
  /** The block's whole text, heading included, ending with a newline. */
  text: string;
}

/**
 * Cuts `text` at its headings of exactly `level` (2: `## `): what comes
 * before the first one, and the blocks. Joining `preamble` and every block's text gives
 * `text` back (with a final newline). Headings inside fenced code count as
 * text, so a note may quote a Markdown heading.
 */
export function blocks(text: string, level: number): { preamble: string; blocks: Block[] } {
  const marker = `${'#'.repeat(level)} `;
  const lines = (text.endsWith('\n') || text === '' ? text : `${text}\n`).split(/(?<=\n)/);
  let preamble = '';
  const out: Block[] = [];
  let fenced = false;
  for (const line of lines) {
    if (/^(```|~~~)/.test(line)) fenced = !fenced;
    if (!fenced && line.startsWith(marker)) {
      out.push({ heading: line.trimEnd(), text: line });
      continue;
    }
    const last = out.at(-1);
    if (last === undefined) preamble += line;
    else last.text += line;
  }
  return { preamble, blocks: out };
}

/** One pipe table: its header cells and its rows' cells. */
export interface Table {
  header: string[];
  rows: string[][];
}

const cells = (line: string): string[] => line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());

/** The pipe tables of `text`, in order. */
export function tables(text: string): Table[] {
  const out: Table[] = [];
  let current: Table | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith('|')) {
      current = undefined;
    } else if (current === undefined) {
      current = { header: cells(line), rows: [] };
      out.push(current);
    } else if (!/^\|[\s|:-]+\|?$/.test(line.trim())) {
      current.rows.push(cells(line));
    }
  }
  return out;
}
