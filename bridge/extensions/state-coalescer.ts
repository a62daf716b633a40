/**
 * Line states under load. A line's state topic holds its level, not a
 * history: `.../edge` carries every change. So the first state of a turn of
 * the event loop is published at once (a lone change waits for nothing),
 * and later ones in the same turn wait for its end, where each line
 * publishes only its last level, and nothing if that is the level it last
 * published. A socket read holding 256 commands over 30 lines thus costs
 * the broker at most 31 retained states instead of 256, each matched,
 * stored and delivered.
 */
export type Publish = (topic: string, payload: string, retain: boolean) => void;

export class StateCoalescer {
  readonly #publish: Publish;
  /** Topic -> the latest state held back in this turn. */
  readonly #held = new Map<string, { payload: string; retain: boolean }>();
  /** Topic -> the last state published on it. */
  readonly #last = new Map<string, string>();
  #turn: NodeJS.Immediate | undefined;

  constructor(publish: Publish) {
    this.#publish = publish;
  }

  /** A line's new level. */
  state(topic: string, payload: string, retain: boolean): void {
    if (this.#turn !== undefined) {
      this.#held.set(topic, { payload, retain });
      return;
    }
    this.#turn = setImmediate(() => {
      this.flush();
    });
    this.#send(topic, payload, retain);
  }

  /** A state published again as it is (after a reconnect): at once, replacing what this turn held for the topic. */
  replay(topic: string, payload: string, retain: boolean): void {
    this.#held.delete(topic);
    this.#send(topic, payload, retain);
  }

  /** Publishes what this turn held back; call it before stopping, so the last levels are not lost. */
  flush(): void {
    if (this.#turn !== undefined) clearImmediate(this.#turn);
    this.#turn = undefined;
    for (const [topic, { payload, retain }] of this.#held) {
      if (this.#last.get(topic) !== payload) this.#send(topic, payload, retain);
    }
    this.#held.clear();
  }

  #send(topic: string, payload: string, retain: boolean): void {
    this.#last.set(topic, payload);
    this.#publish(topic, payload, retain);
  }
}
