/**
 * Every MQTT topic the bridge uses, built and parsed in one place
 * (docs/topics.md lists them), and the rules names must follow to be usable as topic
 * levels: not empty, no `+`, `#` or `/`, no NUL.
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

  state(chip: string, line: string): string {
    return `${this.base}/${chip}/${line}`;
  }

  set(chip: string, line: string): string {
    return `${this.base}/${chip}/${line}/set`;
  }

  edge(chip: string, line: string): string {
    return `${this.base}/${chip}/${line}/edge`;
  }

  /** The guest's confirmation that its driver handed an input edge on (the event ring's EV_INPUT_EDGE). */
  received(chip: string, line: string): string {
    return `${this.base}/${chip}/${line}/received`;
  }

  config(chip: string, line: string): string {
    return `${this.base}/${chip}/${line}/config`;
  }

  /** Subscription for every line command. */
  get setFilter(): string {
    return `${this.base}/+/+/set`;
  }

  /** What an incoming topic addresses, or undefined when it is none of ours. */
  parse(topic: string): { kind: 'set'; chip: string; line: string } | { kind: 'request'; command: string } | undefined {
    const prefix = `${this.base}/`;
    if (!topic.startsWith(prefix)) return undefined;
    const levels = topic.slice(prefix.length).split('/');
    if (levels[0] === 'bridge') {
      if (levels[1] === 'request' && levels.length > 2) return { kind: 'request', command: levels.slice(2).join('/') };
      // `bridge/response/set` is a reply, never a line command. Any other `bridge/<x>/set` names a chip that
      // cannot exist (the name is reserved) and is refused like every other unknown chip.
      if (levels[1] === 'response') return undefined;
    }
    if (levels.length === 3 && levels[2] === 'set' && levels[0] !== undefined && levels[1] !== undefined) {
      return { kind: 'set', chip: levels[0], line: levels[1] };
    }
    return undefined;
  }
}
