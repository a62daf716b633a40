/**
 * Chips <-> MQTT: publishes each chip's line states (retained), edges,
 * the guest's confirmations of received input edges, line configuration
 * (retained) and availability (retained), and applies
 * `<base>/<chip>/<line>/set` commands. A bad command changes nothing: it is
 * logged, answered on `<base>/bridge/event` and counted.
 */
import type { Chip, ChipEvents, EdgeEvent, LineView, ReceivedEvent, Taken, Writing } from '../chip/chip.ts';
import type { AppliedCheck } from '../mqtt/acknowledger.ts';
import { Taking, type Intend } from '../mqtt/link.ts';
import type { Topics } from '../mqtt/topics.ts';
import { parseCommand, quote, statePayload } from '../mqtt/payload.ts';
import type { RejectReason } from '../metrics/metrics.ts';
import { Extension, type ExtensionContext } from './extension.ts';
import { StateCoalescer } from './state-coalescer.ts';

/**
 * The JSON published on `.../edge`, built as a string: every value is one
 * of a few fixed words or a finite number, and JSON.stringify of an object
 * spread for the optional key was 2% of the bridge's time under load.
 */
export function edgePayload(edge: EdgeEvent): string {
  const guest = edge.guestNs === undefined ? '' : `,"guest_ns":${edge.guestNs}`;
  return `{"edge":"${edge.edge}","source":"${edge.source}","seq":${edge.seq},"ts_ms":${edge.tsMs}${guest}}`;
}

/** The JSON published on `.../received`. */
export function receivedPayload(received: ReceivedEvent): string {
  return JSON.stringify({ edge: received.edge, guest_ns: received.guestNs, ts_ms: received.tsMs });
}

/**
 * A command's Taken callback and the Taking it settles with the edge the
 * command made, as published: the MQTT link acknowledges the command once
 * it is taken, and can publish that edge again after a crash. With
 * `intend` (the link's journal), `writing` records the command's change
 * right before it reaches shared memory.
 */
export function taking(topics: Topics, chip: string, intend?: Intend): { taken: Taken; done: Taking; writing: Writing | undefined } {
  const done = new Taking();
  const taken: Taken = (edge) => {
    done.take(edge === undefined ? undefined : { topic: topics.edge(chip, edge.line.name), payload: edgePayload(edge) });
  };
  const writing: Writing | undefined =
    intend === undefined
      ? undefined
      : (line, level, before) => {
          intend({ chip, line, level, before });
        };
  return { taken, done, writing };
}

/** Whether a command the previous run was writing when it stopped is in shared memory, and the edge it made (see Acknowledger). */
export function appliedCheck(chips: ReadonlyMap<string, Chip>, topics: Topics): AppliedCheck {
  return (intent) => {
    const edge = chips.get(intent.chip)?.written(intent.line, intent.level, intent.before);
    return edge === undefined ? undefined : { topic: topics.edge(intent.chip, edge.line.name), payload: edgePayload(edge) };
  };
}

function trigger(view: LineView): string {
  const { irq } = view;
  if (!irq.enabled) return 'none';
  if (irq.rising && irq.falling) return 'both';
  if (irq.rising) return 'rising';
  if (irq.falling) return 'falling';
  if (irq.high) return 'high';
  if (irq.low) return 'low';
  return 'none';
}

/** The JSON published on `.../config`: the guest's view of the line. */
export function configPayload(view: LineView): string {
  return JSON.stringify({
    line: view.line,
    name: view.name,
    direction: view.direction,
    expected_direction: view.expected,
    trigger: trigger(view),
    irq: view.irq,
  });
}

export class ChipPublisher extends Extension {
  readonly #states: StateCoalescer;

  constructor(ctx: ExtensionContext) {
    super(ctx);
    this.#states = new StateCoalescer((topic, payload, retain) => {
      ctx.publish(topic, payload, retain);
    });
  }

  start(): void {
    const { topics } = this.ctx;
    for (const chip of this.ctx.chips.values()) this.#follow(chip);
    this.subscribe(topics.setFilter, (topic, payload, retained, intend) => this.#command(topic, payload, retained, intend));
  }

  override connected(): void {
    for (const chip of this.ctx.chips.values()) chip.republish();
  }

  /** After the base removed this extension's listeners (only its own: the metrics collector follows the same chips). */
  protected override stopped(): void {
    this.#states.flush();
  }

  #follow(chip: Chip): void {
    const { topics } = this.ctx;
    const name = chip.config.name;
    const listen = <E extends keyof ChipEvents>(event: E, listener: (...args: ChipEvents[E]) => void): void => {
      this.listen(chip, event, listener);
    };
    listen('state', (line, level, replay) => {
      const topic = topics.state(name, line.name);
      const payload = statePayload(level, line);
      if (replay) this.#states.replay(topic, payload, line.retain);
      else this.#states.state(topic, payload, line.retain);
    });
    listen('edge', (edge) => {
      this.ctx.publish(topics.edge(name, edge.line.name), edgePayload(edge), false);
    });
    listen('received', (received) => {
      this.ctx.publish(topics.received(name, received.line.name), receivedPayload(received), false);
    });
    listen('config', (view) => {
      this.ctx.publish(topics.config(name, view.name), configPayload(view), true);
    });
    listen('availability', (online) => {
      this.ctx.publish(topics.availability(name), online ? 'online' : 'offline', true);
    });
    listen('problem', (message) => {
      this.ctx.event({ type: 'shared_memory_problem', chip: name, message });
    });
    listen('waveform-stopped', ({ line, kind, reason, message }) => {
      this.ctx.event({ type: 'waveform_stopped', chip: name, line: line.name, kind, reason, message });
    });
  }

  #reject(topic: string, chip: string | undefined, reason: RejectReason, error: string): void {
    this.ctx.signals.emit('command-rejected', chip ?? '', reason);
    this.ctx.log.warn(`command on ${topic} refused: ${error}`);
    this.ctx.event({ type: 'command_rejected', topic, reason, message: error });
  }

  /** Applies a command; it is taken (see Chip.command) when the returned Taking says so, with the edge it made. */
  #command(topic: string, payload: Buffer, retained: boolean, intend: Intend | undefined): Taking | undefined {
    const target = this.ctx.topics.parse(topic);
    if (target?.kind !== 'set') return undefined;
    const chip = this.ctx.chips.get(target.chip);
    if (retained) {
      // A retained command would be replayed on every (re)subscription, e.g. after each restart.
      this.#reject(topic, chip?.config.name, 'retained', 'a retained command is a replay of an old one, not a command; ignored (publish commands without the retain flag, and clear it with an empty retained message)');
      return undefined;
    }
    if (chip === undefined) {
      this.#reject(topic, undefined, 'bad_topic', `no chip ${quote(target.chip)}; chips: ${[...this.ctx.chips.keys()].join(', ')}`);
      return undefined;
    }
    this.ctx.signals.emit('command-received', chip.config.name);
    const line = chip.line(target.line);
    if (line === undefined) {
      this.#reject(topic, chip.config.name, 'unknown_line', `chip ${chip.config.name} has no line ${quote(target.line)} (lines are named in the configuration, or numbered 0..${chip.config.ngpio - 1})`);
      return undefined;
    }
    const parsed = parseCommand(payload, line);
    if (!parsed.ok) {
      this.#reject(topic, chip.config.name, 'bad_payload', parsed.error);
      return undefined;
    }
    const { taken, done, writing } = taking(this.ctx.topics, chip.config.name, intend);
    const result = chip.command(line, parsed.value, taken, writing);
    if (!result.ok) this.#reject(topic, chip.config.name, result.reason, result.error);
    return done;
  }
}
