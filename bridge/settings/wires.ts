/**
 * Rules for `wires` beyond its fields' formats (config/schema.ts): each
 * end names a configured chip and line, the driving line is one the guest
 * drives and the driven ones are host-driven, no wire names a line twice,
 * and no chain of wires comes back to where it started. Every wire is
 * resolved to chip names and line numbers here, so the bridge (signals/
 * wires.ts) looks nothing up by name.
 */
import type { Problems } from './fields.ts';
import { readItem, type ItemRule } from './items.ts';
import { schema } from './schema.ts';
import type { ChipConfig, Derived, LineConfig, WireConfig, WireEnd } from './types.ts';

type WireDraft = Derived<typeof schema.wires.items, true>;

/** The line a `<chip>/<line>` word names, or why it names none. */
function resolve(word: string, chips: readonly ChipConfig[]): WireEnd | string {
  const slash = word.indexOf('/');
  const chipName = word.slice(0, slash);
  const lineWord = word.slice(slash + 1);
  const chip = chips.find((c) => c.name === chipName);
  if (chip === undefined) return `a configured chip (${chips.map((c) => c.name).join(', ')}); no chip "${chipName}"`;
  const line: LineConfig | undefined = chip.lines.find((l) => l.name === lineWord) ?? (/^\d+$/.test(lineWord) ? chip.lines[Number(lineWord)] : undefined);
  if (line === undefined) return `a line of chip ${chip.name} (a configured name or a number 0..${chip.ngpio - 1}); no line "${lineWord}"`;
  return { chip: chip.name, line: line.line, name: line.name, direction: line.direction };
}

const key = (end: WireEnd): string => `${end.chip}/${end.line}`;

interface Context {
  chips: readonly ChipConfig[];
  wire: Partial<WireConfig>;
}

const wireRules = {
  fromIsAGuestOutput(wire, at, context) {
    if (wire.from === null || at.failed('from')) return;
    const end = resolve(wire.from, context.chips);
    if (typeof end === 'string') {
      at.report('from', wire.from, end);
      return;
    }
    context.wire.from = end;
    if (end.direction !== 'output') at.report('from', wire.from, `an output line (direction: output in its chip's lines); ${wire.from} is configured as an input`);
  },
  toAreHostInputs(wire, at, context) {
    if (wire.to === null || at.failed('to')) return;
    const ends: WireEnd[] = [];
    for (const word of wire.to) {
      const end = resolve(word, context.chips);
      if (typeof end === 'string') {
        at.report('to', word, end);
        return;
      }
      ends.push(end);
    }
    // Resolved before the directions are checked, so that a loop is named as one (see loopOf).
    context.wire.to = ends;
    const output = ends.find((end) => end.direction !== 'input');
    if (output !== undefined) at.report('to', `${output.chip}/${output.name}`, 'input lines (direction: input, the default); this one is configured as an output the guest drives');
  },
  namesEachLineOnce(_wire, at, context) {
    const { from, to } = context.wire;
    if (from === undefined || to === undefined) return;
    const seen = new Set([key(from)]);
    for (const end of to) {
      if (seen.has(key(end))) {
        at.report('to', `${end.chip}/${end.name}`, 'each line once in a wire, and not its own `from`');
        return;
      }
      seen.add(key(end));
    }
  },
} satisfies Record<string, ItemRule<WireDraft, Context>>;

/**
 * A chain of wires back to its start (output -> input that is another
 * wire's output -> ...), as `a -> b -> a`, or undefined. The direction
 * rules alone refuse such a chain too (its lines would be inputs and
 * outputs at once); this says what the configuration does.
 */
function loopOf(wires: readonly WireConfig[]): string | undefined {
  const next = new Map<string, WireEnd[]>();
  for (const wire of wires) next.set(key(wire.from), [...(next.get(key(wire.from)) ?? []), ...wire.to]);
  const name = (end: WireEnd): string => `${end.chip}/${end.name}`;
  const visit = (end: WireEnd, path: WireEnd[]): string | undefined => {
    if (path.some((p) => key(p) === key(end))) return [...path, end].map(name).join(' -> ');
    for (const to of next.get(key(end)) ?? []) {
      const found = visit(to, [...path, end]);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  for (const wire of wires) {
    const found = visit(wire.from, []);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Checks and resolves `wires` against the chips read before; problems go to `problems`. */
export function readWires(raw: unknown[], chips: readonly ChipConfig[], problems: Problems): WireConfig[] {
  const wires: WireConfig[] = [];
  /** Every wire whose ends name lines, valid or not: for the loop check. */
  const resolved: WireConfig[] = [];
  raw.forEach((entry, index) => {
    const context: Context = { chips, wire: {} };
    const draft = readItem<WireDraft, Context>(schema.wires.items, wireRules, entry, `wires[${index}]`, context, problems);
    const { from, to } = context.wire;
    if (from === undefined || to === undefined) return;
    const wire = { from, to, inverted: draft?.inverted ?? false, delayMs: draft?.delayMs ?? 0 };
    resolved.push(wire);
    if (draft !== undefined) wires.push(wire);
  });
  const loop = loopOf(resolved);
  if (loop !== undefined) problems.list.push(`wires: got a loop ${loop}; allowed: wires whose chains end (a line is either a wire's input or its output)`);
  return wires;
}
