/**
 * Where every CLI subcommand (qemu-args, get, set, watch, capture) finds
 * chips, the same way for all: from the configuration file when one was
 * given (-c or VGPIO2MQTT_CONFIG: chips are configured in a file only),
 * else from the running bridge's retained `bridge/info`, which describes
 * each chip's lines and what attaches a guest. So a bridge started with a
 * configuration the CLI was not given (the demo's) is reached all the same.
 * A lone chip is the default wherever a chip can be left out.
 */
import type { LineConfig, Settings } from '../settings/types.ts';
import type { AttachConfig } from '../guest-setup/qemu-args.ts';

export class ChipLookupError extends Error {
  override readonly name = 'ChipLookupError';
}

/** What the CLI needs of a line: its number and topic name, and how its state payload reads. */
export type KnownLine = Pick<LineConfig, 'line' | 'name' | 'configured' | 'direction' | 'payloadOn' | 'payloadOff'>;

export interface KnownChip extends AttachConfig {
  ngpio: number;
  lines: KnownLine[];
}

export interface ChipSource {
  chips: KnownChip[];
  /** Where they came from, for messages: "the configuration /etc/x.yaml" or "the running bridge (bridge/info)". */
  from: string;
}

type Json = Record<string, unknown>;

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const strOrNull = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const int = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isInteger(value) ? value : fallback);

function lineFromInfo(l: Json): KnownLine | undefined {
  const name = str(l.name);
  if (name === undefined || typeof l.line !== 'number') return undefined;
  return {
    line: l.line,
    name,
    configured: l.configured === true,
    direction: l.direction === 'output' ? 'output' : 'input',
    payloadOn: str(l.payload_on) ?? 'ON',
    payloadOff: str(l.payload_off) ?? 'OFF',
  };
}

/** The chips a `bridge/info` payload describes (bridge/extensions/bridge-api.ts info()); malformed entries are left out. */
export function chipsFromInfo(payload: string): KnownChip[] {
  let info: unknown;
  try {
    info = JSON.parse(payload);
  } catch {
    return [];
  }
  const chips = typeof info === 'object' && info !== null ? (info as Json).chips : undefined;
  if (!Array.isArray(chips)) return [];
  const out: KnownChip[] = [];
  for (const c of chips as Json[]) {
    const name = str(c.name);
    if (name === undefined || (c.mode !== 'server' && c.mode !== 'client' && c.mode !== 'plain')) continue;
    const lines = Array.isArray(c.lines) ? (c.lines as Json[]).map(lineFromInfo).filter((l) => l !== undefined) : [];
    out.push({
      name,
      mode: c.mode,
      socket: strOrNull(c.socket),
      shm: strOrNull(c.shm),
      agentSocket: strOrNull(c.agent_socket),
      size: int(c.size, 0),
      vectors: int(c.vectors, 1),
      ngpio: int(c.ngpio, lines.length),
      lines,
    });
  }
  return out;
}

/** The configured chips when a configuration file was given, else those of the running bridge (`fetchInfo` reads its retained bridge/info). */
export async function knownChips(settings: Settings, fetchInfo: (settings: Settings) => Promise<string>): Promise<ChipSource> {
  if (settings.file !== null) return { chips: settings.chips, from: `the configuration ${settings.file}` };
  return { chips: chipsFromInfo(await fetchInfo(settings)), from: 'the running bridge (bridge/info)' };
}

function names(chips: readonly KnownChip[]): string {
  return chips.map((c) => c.name).join(', ') || 'none';
}

/** The chip called `name`, or the lone chip when `name` is undefined; `how` says how to name one (e.g. "--chip <chip>"). */
export function pickChip(source: ChipSource, name: string | undefined, how: string): KnownChip {
  const { chips, from } = source;
  if (name === undefined) {
    const [lone] = chips;
    if (chips.length === 1 && lone !== undefined) return lone;
    throw new ChipLookupError(chips.length === 0 ? `no chips in ${from}` : `${from} has ${chips.length} chips (${names(chips)}): name one with ${how}`);
  }
  const chip = chips.find((c) => c.name === name);
  if (chip === undefined) throw new ChipLookupError(`no chip ${JSON.stringify(name)} in ${from}; chips: ${names(chips)}`);
  return chip;
}

/** A line by its name or its number. */
export function findLine<L extends KnownLine>(chip: { name: string; ngpio: number; lines: readonly L[] }, word: string): L {
  const line = chip.lines.find((l) => l.name === word) ?? (/^\d+$/.test(word) ? chip.lines.find((l) => l.line === Number(word)) : undefined);
  if (line === undefined) {
    const named = chip.lines.filter((l) => l.configured).map((l) => l.name);
    throw new ChipLookupError(`chip ${chip.name} has no line ${JSON.stringify(word)}; lines are named (${named.join(', ') || 'none named'}) or numbered 0..${chip.ngpio - 1}`);
  }
  return line;
}
