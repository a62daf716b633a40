/**
 * Every MQTT topic the project uses under the base topic (docs/topics.md
 * lists them), built and parsed in one place, by the bridge, the CLI,
 * capture, the web page, the TypeScript client, the bench and the demo;
 * and the rules names must follow to be usable as topic levels: not
 * empty, no `+`, `#` or `/`, no NUL. No Node-only import: the web page's
 * bundle (scripts/build-web.ts) includes this file.
 */

/** Why a chip or line name cannot be a topic level, or undefined when it can. */
export function nameProblem(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  if (/[+#/\0]/.test(name)) return 'must not contain +, #, / or NUL';
  if (name.trim() !== name) return 'must not start or end with white space';
  return undefined;
}

/** A topic prefix such as `vgpio2mqtt` or `lab/vgpio`: levels without wildcards, none empty. */
export function isValidTopicPath(path: string): boolean {
  return path.split('/').every((level) => nameProblem(level) === undefined);
}

/** Chip names that would clash with the bridge's own topics (`<base>/bridge/...`). */
export const RESERVED_CHIP_NAMES: readonly string[] = ['bridge'];

/** What follows `<base>/<chip>/<line>` in each kind of line topic. */
const LINE_LEAVES = {
  state: '',
  set: '/set',
  edge: '/edge',
  received: '/received',
  config: '/config',
  'agent-edge': '/agent/edge',
  'agent-lineinfo': '/agent/lineinfo',
} as const;

/** A kind of per-line topic: the bridge's state, edge, received and config, commands (set), the guest agent's edge and lineinfo. */
export type LineKind = keyof typeof LINE_LEAVES;

const LINE_KINDS = new Map<string, LineKind>(Object.entries(LINE_LEAVES).map(([kind, leaf]) => [leaf, kind as LineKind]));

/**
 * Line names that are also the fixed leaves of a chip's or a line's topics
 * (`<chip>/availability`, `<chip>/agent`, `<line>/set`, `<line>/edge`, ...):
 * a line with such a name would make `watch` output and subscriptions
 * ambiguous to read.
 */
export const RESERVED_LINE_NAMES: readonly string[] = ['availability', 'agent', 'edge', 'set', 'config', 'received', 'lineinfo'];

/** What a topic under the base addresses (Topics.parse). */
export type ParsedTopic =
  | { kind: 'bridge-state' | 'bridge-info' | 'bridge-event' }
  | { kind: 'request' | 'response'; command: string }
  | { kind: 'availability' | 'agent'; chip: string }
  | { kind: LineKind; chip: string; line: string };

/** Topics under one base topic. */
export class Topics {
  readonly base: string;

  constructor(base: string) {
    this.base = base;
  }

  get bridgeState(): string {
    return `${this.base}/bridge/state`;
  }

  get bridgeInfo(): string {
    return `${this.base}/bridge/info`;
  }

  get bridgeEvent(): string {
    return `${this.base}/bridge/event`;
  }

  /** Subscription for every request command. */
  get requestFilter(): string {
    return `${this.base}/bridge/request/#`;
  }

  response(command: string): string {
    return `${this.base}/bridge/response/${command}`;
  }

  request(command: string): string {
    return `${this.base}/bridge/request/${command}`;
  }

  availability(chip: string): string {
    return `${this.base}/${chip}/availability`;
  }

  /** A chip's guest agent: `online` / `offline`, retained; the agent alone publishes it (its will covers a dropped connection). */
  agent(chip: string): string {
    return `${this.base}/${chip}/agent`;
  }

  /** A line topic of `kind`; `+` for chip or line makes it a filter. */
  line(kind: LineKind, chip: string, line: string): string {
    return `${this.base}/${chip}/${line}${LINE_LEAVES[kind]}`;
  }

  /** The filter for `kind` topics of one chip or line, or of all (`+` where not given). */
  lineFilter(kind: LineKind, chip = '+', line = '+'): string {
    return this.line(kind, chip, line);
  }

  state(chip: string, line: string): string {
    return this.line('state', chip, line);
  }

  set(chip: string, line: string): string {
    return this.line('set', chip, line);
  }

  edge(chip: string, line: string): string {
    return this.line('edge', chip, line);
  }

  /** The guest's confirmation that its driver handed an input edge on (the event ring's EV_INPUT_EDGE). */
  received(chip: string, line: string): string {
    return this.line('received', chip, line);
  }

  config(chip: string, line: string): string {
    return this.line('config', chip, line);
  }

  /** Subscription for every line command. */
  get setFilter(): string {
    return this.lineFilter('set');
  }

  /** Subscription for everything of one chip (its availability, agent and lines' topics). */
  chipFilter(chip: string): string {
    return `${this.base}/${chip}/#`;
  }

  /** Subscription for everything under the base (the web page's). */
  get all(): string {
    return `${this.base}/#`;
  }

  /**
   * What a topic addresses, or undefined when it is none of ours. Under
   * `bridge/` only the bridge's own topics, and `bridge/<x>/set`: a command
   * for a chip that cannot exist (the name is reserved), refused like
   * every other unknown chip.
   */
  parse(topic: string): ParsedTopic | undefined {
    const prefix = `${this.base}/`;
    if (!topic.startsWith(prefix)) return undefined;
    const levels = topic.slice(prefix.length).split('/');
    const [chip = '', second, third] = levels;
    if (second === undefined) return undefined;
    if (chip === 'bridge') {
      if ((second === 'request' || second === 'response') && levels.length > 2) return { kind: second, command: levels.slice(2).join('/') };
      if (levels.length === 2 && (second === 'state' || second === 'info' || second === 'event')) return { kind: `bridge-${second}` };
      if (levels.length !== 3 || third !== 'set') return undefined;
    }
    if (levels.length === 2 && (second === 'availability' || second === 'agent')) return { kind: second, chip };
    const kind = LINE_KINDS.get(levels.length === 2 ? '' : `/${levels.slice(2).join('/')}`);
    return kind === undefined ? undefined : { kind, chip, line: second };
  }
}
