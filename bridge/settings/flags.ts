/**
 * Command-line words before node:util's parseArgs sees them: a flag whose
 * value is a negative number (`--mqtt-keepalive -1`) is joined into one
 * word, so the range check answers instead of parseArgs' "argument is
 * ambiguous"; an unknown flag is named with the closest known one, instead
 * of its value being taken for a positional argument.
 */
import { parseArgs } from 'node:util';

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** `--flag -1` becomes `--flag=-1` for flags that take a value. */
export function joinNegativeValues(args: readonly string[], spec: FlagSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i] ?? '';
    const next = args[i + 1];
    const name = word.startsWith('--') ? word.slice(2) : undefined;
    if (name !== undefined && spec[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${word}=${next}`);
      i += 1;
    } else {
      out.push(word);
    }
  }
  return out;
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

/** The known name closest to `word`, if it is close enough to be a typo of it. */
export function closest(word: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of known) {
    const d = distance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** One message per flag in `args` that `spec` does not know, with a suggestion when one is close. */
export function unknownFlags(args: readonly string[], spec: FlagSpec): string[] {
  const { tokens } = parseArgs({ args: [...args], options: spec, strict: false, allowPositionals: true, tokens: true });
  const messages: string[] = [];
  for (const token of tokens) {
    if (token.kind !== 'option' || Object.hasOwn(spec, token.name)) continue;
    const flag = token.rawName;
    const guess = token.rawName.startsWith('--') ? closest(token.name, Object.keys(spec)) : undefined;
    messages.push(`unknown option ${flag}${guess === undefined ? '' : `, did you mean --${guess}?`}`);
  }
  return messages;
}
