/**
 * Completes and checks the `chips` list beyond what each field's format
 * says (config/items.ts checks those against config/schema.ts): defaults
 * that depend on other fields (sockets, shared memory, size, poll period,
 * one LineConfig per line), rules across fields of a chip or a line, and
 * rules across the chips or the lines of a chip (unique names, also as
 * Home Assistant sees them, unique paths). Each rule is a named function;
 * every problem is reported with its option path.
 */
import assert from 'node:assert/strict';
import { VgpioRegion } from '../shm/region.ts';
import { chipSlug, discoveryId, lineSlug } from '../extensions/homeassistant/ids.ts';
import { Problems } from './fields.ts';
import { isPowerOfTwo } from './formats.ts';
import { readItem, type ItemRule } from './items.ts';
import { schema } from './schema.ts';
import type { ChipConfig, ChipDraft, LineConfig, LineDraft } from './types.ts';

const MAX_SHM_SIZE = 1 << 30;

interface ChipContext {
  runtimeDir: string;
}

const chipRules = {
  nameRequired(chip, at) {
    if (!at.has('name')) at.report('name', undefined, 'a chip name (a topic level)');
    chip.name ??= '';
  },
  runtimeDir(chip, _at, { runtimeDir }) {
    chip.runtimeDir = runtimeDir;
  },
  socketByMode(chip, at) {
    if (chip.mode === 'server') chip.socket ??= `${chip.runtimeDir}/${chip.name}.sock`;
    if (chip.mode === 'client' && chip.socket === null) at.report('socket', undefined, 'the external ivshmem server\'s socket path (required in client mode)');
    if (chip.mode === 'plain' && chip.socket !== null) at.report('socket', chip.socket, 'nothing: plain mode has no ivshmem server');
  },
  shmByMode(chip, at) {
    if (chip.mode === 'client' && chip.shm !== null) at.report('shm', chip.shm, 'nothing: in client mode the external server hands over the shared memory');
    if (chip.mode !== 'client') chip.shm ??= `/dev/shm/vgpio2mqtt-${chip.name}`;
  },
  sizeFitsTheRegion(chip, at) {
    const required = VgpioRegion.requiredSize(chip.ngpio, chip.ringLen);
    const size = chip.size;
    chip.size = required;
    if (size !== null && (size < required || size > MAX_SHM_SIZE)) at.report('size', size, `an integer ${required}..${MAX_SHM_SIZE}`);
    else if (size !== null && !isPowerOfTwo(size)) at.report('size', size, `a power of two, ${required}..${MAX_SHM_SIZE} (QEMU refuses other sizes)`);
    else if (size !== null) chip.size = size;
    if (chip.mode === 'client' && at.has('size')) at.report('size', at.raw('size'), 'nothing: in client mode the external server decides the size');
  },
  labelDefaultsToName(chip) {
    chip.label ??= chip.name;
  },
  pollByMode(chip) {
    chip.pollMs ??= chip.mode === 'plain' ? 10 : 1000;
  },
  /** Last: the lines need the chip's name and ngpio. */
  lines(chip, at) {
    chip.lines = readLines(chip.lines, at.at('lines'), chip as ChipConfig, at.problems);
  },
} satisfies Record<string, ItemRule<ChipDraft, ChipContext>>;

interface LineContext {
  ngpio: number;
}

const nameDefaultsToNumber: ItemRule<LineDraft, LineContext> = (line, at) => {
  if (!at.has('name')) line.name = String(line.line);
};

const lineRules = {
  lineNumberInChip(line, at, { ngpio }) {
    if (!at.has('line')) at.report('line', undefined, `the line number, 0..${ngpio - 1}`);
    else if (line.line !== null && line.line > ngpio - 1) at.report('line', line.line, `an integer 0..${ngpio - 1}`);
    line.line ??= 0;
    line.configured = true;
  },
  nameDefaultsToNumber,
  numbersNameTheirOwnLine(line, at) {
    if (line.name !== null && at.has('name') && !at.failed('name') && /^\d+$/.test(line.name) && Number(line.name) !== line.line) {
      at.report('name', line.name, `a name that is not a number, or the line's own number ${line.line} (numbers name lines)`);
    }
  },
  payloadsDiffer(line, at) {
    if (line.payloadOn === line.payloadOff) at.report('payload_off', line.payloadOff, `anything but payload_on ("${line.payloadOn}")`);
  },
} satisfies Record<string, ItemRule<LineDraft, LineContext>>;

const lineFields = schema.chips.items.lines.items;
const chipFields = schema.chips.items;

/** A line the configuration does not mention: the fields' defaults, named by its number. */
function defaultLine(line: number): LineConfig {
  const item = readItem<LineDraft, LineContext>(lineFields, { nameDefaultsToNumber }, { line }, `line ${line}`, { ngpio: line + 1 }, new Problems());
  return { ...((item as LineConfig | undefined) ?? assert.fail(`line ${line}: the defaults do not pass the schema`)), configured: false };
}

/**
 * Checks across the lines of a chip, in order; the first that fails drops the line.
 * `seen` holds what the lines before it took.
 */
interface SeenLines {
  names: Map<string, number>;
  slugs: Map<string, LineConfig>;
  chip: ChipConfig;
}
type LineListRule = (line: LineConfig, path: string, seen: SeenLines, problems: Problems) => boolean;

const lineListRules = {
  eachLineOnce(line, path, { chip }, problems) {
    if (chip.lines[line.line]?.configured !== true) return true;
    problems.add(`${path}.line`, line.line, 'each line number once per chip');
    return false;
  },
  uniqueName(line, path, { names }, problems) {
    const other = names.get(line.name);
    if (other === undefined) return true;
    problems.add(`${path}.name`, line.name, `a name unique in the chip (line ${other} has it)`);
    return false;
  },
  // Entity ids are built from line names (homeassistant/ids.ts): two names Home Assistant cannot tell apart are refused.
  distinctForHomeAssistant(line, path, { slugs, chip }, problems) {
    const twin = slugs.get(lineSlug(line.name, line.line));
    if (twin === undefined) return true;
    problems.add(`${path}.name`, line.name, `a name Home Assistant can tell from line ${twin.line} ${JSON.stringify(twin.name)} (both give entity ids ending in "${chipSlug(chip.name)}_${lineSlug(line.name, line.line)}")`);
    return false;
  },
} satisfies Record<string, LineListRule>;

function readLines(raw: unknown[], path: string, chip: ChipConfig, problems: Problems): LineConfig[] {
  const lines = Array.from({ length: chip.ngpio }, (_, line) => defaultLine(line));
  const seen: SeenLines = { names: new Map(), slugs: new Map(), chip: { ...chip, lines } };
  raw.forEach((rawLine, index) => {
    const linePath = `${path}[${index}]`;
    // The rules fill in every computed field of a line that passes them.
    const line = readItem<LineDraft, LineContext>(lineFields, lineRules, rawLine, linePath, { ngpio: chip.ngpio }, problems) as LineConfig | undefined;
    if (line === undefined || !Object.values(lineListRules).every((rule) => rule(line, linePath, seen, problems))) return;
    seen.slugs.set(lineSlug(line.name, line.line), line);
    seen.names.set(line.name, line.line);
    lines[line.line] = line;
  });
  return lines;
}

/** What the chips before one took. */
interface SeenChips {
  names: Set<string>;
  /** Chips by the ids Home Assistant knows them by: two names that come out the same would overwrite each other there. */
  ids: Map<string, string>;
  slugs: Map<string, string>;
  sockets: Set<string>;
  shms: Set<string>;
}
/** A check across chips, in order; the first that fails drops the chip. */
type ChipListRule = (chip: ChipConfig, path: string, seen: SeenChips, problems: Problems) => boolean;

const chipListRules = {
  uniqueName(chip, path, { names }, problems) {
    if (!names.has(chip.name)) return true;
    problems.add(`${path}.name`, chip.name, 'a chip name used once');
    return false;
  },
  distinctForHomeAssistant(chip, path, { ids, slugs }, problems) {
    const sameId = ids.get(discoveryId(chip.name));
    const sameSlug = slugs.get(chipSlug(chip.name));
    if (sameId !== undefined) {
      problems.add(`${path}.name`, chip.name, `a name Home Assistant can tell from ${sameId} (both give the discovery id "${discoveryId(chip.name)}")`);
      return false;
    }
    if (sameSlug !== undefined) {
      problems.add(`${path}.name`, chip.name, `a name Home Assistant can tell from ${sameSlug} (both give entity ids starting "${chipSlug(chip.name)}_")`);
      return false;
    }
    const self = `${path}.name ${JSON.stringify(chip.name)}`;
    ids.set(discoveryId(chip.name), self);
    slugs.set(chipSlug(chip.name), self);
    return true;
  },
  /** Reports a path another chip uses, but keeps the chip (its other checks still run). */
  pathsUsedOnce(chip, path, { sockets, shms }, problems) {
    if (chip.mode === 'server' && chip.socket !== null) {
      if (sockets.has(chip.socket)) problems.add(`${path}.socket`, chip.socket, 'a socket path no other chip uses');
      sockets.add(chip.socket);
    }
    if (chip.shm !== null) {
      if (shms.has(chip.shm)) problems.add(`${path}.shm`, chip.shm, 'a shared-memory path no other chip uses');
      shms.add(chip.shm);
    }
    if (chip.agentSocket !== null) {
      // Agent sockets share the set of server sockets: a chip's ivshmem server and another's agent cannot meet either.
      if (sockets.has(chip.agentSocket) || shms.has(chip.agentSocket)) {
        problems.add(`${path}.agent_socket`, chip.agentSocket, 'a socket path no other chip or option uses');
      }
      sockets.add(chip.agentSocket);
    }
    return true;
  },
} satisfies Record<string, ChipListRule>;

/** Checks and completes the chip list (default sockets in `runtimeDir`); problems go to `problems`. */
export function readChips(raw: unknown[], runtimeDir: string, problems: Problems): ChipConfig[] {
  const chips: ChipConfig[] = [];
  const seen: SeenChips = { names: new Set(), ids: new Map(), slugs: new Map(), sockets: new Set(), shms: new Set() };
  raw.forEach((entry, index) => {
    const path = `chips[${index}]`;
    // The rules fill in every computed field of a chip that passes them.
    const chip = readItem<ChipDraft, ChipContext>(chipFields, chipRules, entry, path, { runtimeDir }, problems) as ChipConfig | undefined;
    if (chip === undefined || !Object.values(chipListRules).every((rule) => rule(chip, path, seen, problems))) return;
    seen.names.add(chip.name);
    chips.push(chip);
  });
  return chips;
}
