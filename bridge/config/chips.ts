/**
 * Checks the `chips` list of a configuration and fills in defaults: modes,
 * socket and shared-memory paths, region size, and one LineConfig per
 * line (configured or not). Every problem is reported with its option path
 * (`chips[0].lines[2].name`), the bad value and what is allowed.
 */
import { protocol } from '../../native/index.ts';
import { VgpioRegion } from '../shm/region.ts';
import { nameProblem } from '../mqtt/topics.ts';
import { chipSlug, discoveryId, lineSlug } from '../homeassistant/ids.ts';
import { Fields, Problems } from './fields.ts';
import type { ChipConfig, ChipMode, LineConfig, LineDirection } from './types.ts';

const MODES: readonly ChipMode[] = ['server', 'client', 'plain'];
const DIRECTIONS: readonly LineDirection[] = ['input', 'output'];
/** Chip names that would clash with the bridge's own topics (`<base>/bridge/...`). */
const RESERVED_CHIP_NAMES = new Set(['bridge']);
/**
 * Line names that are also the fixed leaves of a chip's or a line's topics
 * (`<chip>/availability`, `<chip>/agent`, `<line>/set`, `<line>/edge`, ...):
 * a line with such a name would make `watch` output and subscriptions
 * ambiguous to read.
 */
const RESERVED_LINE_NAMES = new Set(['availability', 'agent', 'edge', 'set', 'config', 'received', 'lineinfo']);
export const NAME_RULE = 'a non-empty name without +, #, /, NUL or surrounding white space';
const MAX_SHM_SIZE = 1 << 30;
const MAX_PAYLOAD = 64;

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function checkName(problems: Problems, path: string, name: string, maxBytes: number, reserved: Set<string>): void {
  const problem = nameProblem(name);
  if (problem !== undefined) problems.add(path, name, NAME_RULE);
  else if (reserved.has(name)) problems.add(path, name, `any name but ${[...reserved].join(', ')} (reserved for the bridge's own topics)`);
  else if (utf8Length(name) > maxBytes) problems.add(path, name, `at most ${maxBytes} bytes of UTF-8`);
}

const SOCKET_MODE_RULE = 'an octal permission string such as "0600" or "0660"';

/** `socket_mode` as text; YAML reads an unquoted 0660 as the decimal number 660, so a number gets a hint. */
function socketModeText(f: Fields, problems: Problems): string {
  const raw = f.raw('socket_mode');
  if (typeof raw === 'number') {
    problems.add(f.path('socket_mode'), raw, `${SOCKET_MODE_RULE} in quotes (YAML reads an unquoted 0660 as the decimal number 660)`);
    return '0600';
  }
  const text = f.string('socket_mode', '0600', SOCKET_MODE_RULE);
  if (!/^0?[0-7]{3}$/.test(text)) problems.add(f.path('socket_mode'), text, SOCKET_MODE_RULE);
  return text;
}

function defaultLine(line: number): LineConfig {
  return {
    line,
    name: String(line),
    configured: false,
    direction: 'input',
    payloadOn: 'ON',
    payloadOff: 'OFF',
    inverted: false,
    retain: true,
    pulseMs: null,
    debounceMs: 0,
  };
}

function readLine(raw: unknown, path: string, ngpio: number, problems: Problems): LineConfig | undefined {
  const f = new Fields(raw, path, problems);
  if (!f.valid) return undefined;
  const before = problems.list.length;
  if (!f.has('line')) problems.add(f.path('line'), undefined, `the line number, 0..${ngpio - 1}`);
  const line = f.integer('line', 0, 0, ngpio - 1);
  const name = f.string('name', String(line), 'a string');
  if (f.has('name')) {
    checkName(problems, f.path('name'), name, protocol.NAME_LEN - 1, RESERVED_LINE_NAMES);
    if (/^\d+$/.test(name) && Number(name) !== line) {
      problems.add(f.path('name'), name, `a name that is not a number, or the line's own number ${line} (numbers name lines)`);
    }
  }
  const config: LineConfig = {
    line,
    name,
    configured: true,
    direction: f.oneOf('direction', DIRECTIONS, 'input'),
    payloadOn: f.string('payload_on', 'ON'),
    payloadOff: f.string('payload_off', 'OFF'),
    inverted: f.boolean('inverted', false),
    retain: f.boolean('retain', true),
    pulseMs: f.optionalInteger('pulse_ms', 1, 3_600_000),
    debounceMs: f.integer('debounce_ms', 0, 0, 60_000),
  };
  for (const key of ['payload_on', 'payload_off'] as const) {
    const value = key === 'payload_on' ? config.payloadOn : config.payloadOff;
    if (value === '' || value.length > MAX_PAYLOAD) problems.add(f.path(key), value, `a non-empty string of at most ${MAX_PAYLOAD} characters`);
  }
  if (config.payloadOn === config.payloadOff) problems.add(f.path('payload_off'), config.payloadOff, `anything but payload_on ("${config.payloadOn}")`);
  f.rejectUnknown();
  return problems.list.length === before ? config : undefined;
}

function readChip(raw: unknown, path: string, runtimeDir: string, problems: Problems): ChipConfig | undefined {
  const f = new Fields(raw, path, problems);
  if (!f.valid) return undefined;
  const before = problems.list.length;
  if (!f.has('name')) problems.add(f.path('name'), undefined, 'a chip name (a topic level)');
  const name = f.string('name', '');
  if (f.has('name')) checkName(problems, f.path('name'), name, protocol.LABEL_LEN - 1, RESERVED_CHIP_NAMES);
  const mode = f.oneOf('mode', MODES, 'server');
  const ngpio = f.integer('ngpio', 32, protocol.NGPIO_MIN, protocol.NGPIO_MAX);
  const ringLen = f.integer('ring_len', protocol.RING_LEN_DEFAULT, protocol.RING_LEN_MIN, protocol.RING_LEN_MAX);
  if ((ringLen & (ringLen - 1)) !== 0) problems.add(f.path('ring_len'), ringLen, `a power of two, ${protocol.RING_LEN_MIN}..${protocol.RING_LEN_MAX}`);

  let socket = f.optionalString('socket');
  if (mode === 'server') socket ??= `${runtimeDir}/${name}.sock`;
  if (mode === 'client' && socket === null) problems.add(f.path('socket'), undefined, 'the external ivshmem server\'s socket path (required in client mode)');
  if (mode === 'plain' && socket !== null) problems.add(f.path('socket'), socket, 'nothing: plain mode has no ivshmem server');
  const modeText = socketModeText(f, problems);

  let shm = f.optionalString('shm');
  if (mode === 'client' && shm !== null) problems.add(f.path('shm'), shm, 'nothing: in client mode the external server hands over the shared memory');
  if (mode !== 'client') shm ??= `/dev/shm/vgpio2mqtt-${name}`;

  const required = VgpioRegion.requiredSize(ngpio, (ringLen & (ringLen - 1)) === 0 ? ringLen : protocol.RING_LEN_DEFAULT);
  const size = f.integer('size', required, required, MAX_SHM_SIZE);
  if ((size & (size - 1)) !== 0) problems.add(f.path('size'), size, `a power of two, ${required}..${MAX_SHM_SIZE} (QEMU refuses other sizes)`);
  if (mode === 'client' && f.has('size')) problems.add(f.path('size'), f.raw('size'), 'nothing: in client mode the external server decides the size');

  const config: ChipConfig = {
    name,
    mode,
    runtimeDir,
    socket,
    socketMode: Number.parseInt(modeText, 8),
    agentSocket: f.optionalString('agent_socket'),
    shm,
    size,
    vectors: f.integer('vectors', protocol.VECTORS_MIN, protocol.VECTORS_MIN, 64),
    ngpio,
    label: f.string('label', name),
    ringLen,
    queueLimit: f.integer('queue_limit', 16, 1, 1024),
    pollMs: f.integer('poll_ms', mode === 'plain' ? 10 : 1000, 1, 60_000),
    lines: Array.from({ length: ngpio }, (_, line) => defaultLine(line)),
  };
  if (utf8Length(config.label) > protocol.LABEL_LEN - 1 || config.label === '') {
    problems.add(f.path('label'), config.label, `a non-empty label of at most ${protocol.LABEL_LEN - 1} bytes of UTF-8`);
  }

  const seenNames = new Map<string, number>();
  const seenSlugs = new Map<string, LineConfig>();
  f.list('lines').forEach((rawLine, index) => {
    const linePath = `${f.path('lines')}[${index}]`;
    const line = readLine(rawLine, linePath, ngpio, problems);
    if (line === undefined) return;
    if (config.lines[line.line]?.configured === true) {
      problems.add(`${linePath}.line`, line.line, 'each line number once per chip');
      return;
    }
    const other = seenNames.get(line.name);
    if (other !== undefined) {
      problems.add(`${linePath}.name`, line.name, `a name unique in the chip (line ${other} has it)`);
      return;
    }
    // Entity ids are built from line names (homeassistant/ids.ts): two names Home Assistant cannot tell apart are refused.
    const slug = lineSlug(line.name, line.line);
    const twin = seenSlugs.get(slug);
    if (twin !== undefined) {
      problems.add(`${linePath}.name`, line.name, `a name Home Assistant can tell from line ${twin.line} ${JSON.stringify(twin.name)} (both give entity ids ending in "${chipSlug(name)}_${slug}")`);
      return;
    }
    seenSlugs.set(slug, line);
    seenNames.set(line.name, line.line);
    config.lines[line.line] = line;
  });
  f.rejectUnknown();
  return problems.list.length === before ? config : undefined;
}

/** Checks and completes the chip list (default sockets in `runtimeDir`); problems go to `problems`. */
export function readChips(raw: unknown[], runtimeDir: string, problems: Problems): ChipConfig[] {
  const chips: ChipConfig[] = [];
  const names = new Set<string>();
  /** Chips by the ids Home Assistant knows them by: two names that come out the same would overwrite each other there. */
  const ids = new Map<string, string>();
  const slugs = new Map<string, string>();
  const sockets = new Set<string>();
  const shms = new Set<string>();
  raw.forEach((entry, index) => {
    const path = `chips[${index}]`;
    const chip = readChip(entry, path, runtimeDir, problems);
    if (chip === undefined) return;
    if (names.has(chip.name)) {
      problems.add(`${path}.name`, chip.name, 'a chip name used once');
      return;
    }
    const sameId = ids.get(discoveryId(chip.name));
    const sameSlug = slugs.get(chipSlug(chip.name));
    if (sameId !== undefined) {
      problems.add(`${path}.name`, chip.name, `a name Home Assistant can tell from ${sameId} (both give the discovery id "${discoveryId(chip.name)}")`);
      return;
    }
    if (sameSlug !== undefined) {
      problems.add(`${path}.name`, chip.name, `a name Home Assistant can tell from ${sameSlug} (both give entity ids starting "${chipSlug(chip.name)}_")`);
      return;
    }
    const self = `${path}.name ${JSON.stringify(chip.name)}`;
    ids.set(discoveryId(chip.name), self);
    slugs.set(chipSlug(chip.name), self);
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
    names.add(chip.name);
    chips.push(chip);
  });
  return chips;
}
