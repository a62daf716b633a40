/**
 * The bridge's MQTT side with the embedded broker: it subscribes and
 * publishes through Aedes' own API in-process, so no packet is encoded or
 * decoded and the bridge keeps no MQTT session in its own broker. Other
 * clients see what an MQTT client of the bridge would give them: every
 * publication goes through the broker's publish path (retained messages
 * stored, QoS per subscriber, in order), and a subscription first replays
 * the matching retained messages, flagged retained, as a broker does on
 * SUBSCRIBE. There is no will: the broker lives and dies with this process,
 * and `bridge/state` offline is the last thing published on stop.
 *
 * Each handler gets each message once, however many of the bridge's
 * filters match it, and never gets the bridge's own publications (they
 * are the only ones without a publishing client).
 *
 * Aedes acknowledged a client's QoS 1 command when it received it, and
 * its sessions live in this process: a command is delivered once or, if
 * the bridge dies before taking it, not at all. A stop takes every command
 * handed over already (stopTaking) and no later one.
 */
import { EventEmitter } from 'node:events';
import type { AedesPublishPacket, PublishPacket } from 'aedes';
import type { EmbeddedBroker } from '../../broker/embedded.ts';
import type { Logger } from '../log.ts';
import { publishQos, STOP_TIMEOUT_MS, type LastMessage, type LinkEvents, type MessageHandler, type MqttLink, type PublishOptions, type Unsubscribe } from './link.ts';

type Deliver = (packet: AedesPublishPacket, done: () => void) => void;
interface Outgoing {
  packet: PublishPacket;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class BrokerLink extends EventEmitter<LinkEvents> implements MqttLink {
  readonly #broker: EmbeddedBroker;
  readonly #log: Logger;
  readonly #listeners: { filter: string; deliver: Deliver }[] = [];
  /**
   * Publications waiting for the one before them to reach the broker's
   * subscribers, from #next on (a shift() per message would be O(n)).
   * They must reach them in the order they were published: Aedes numbers
   * each publication and a subscriber drops one numbered below one it
   * already got, as a duplicate. A QoS 0 message that is not retained
   * reaches them within aedes.publish() (or joins the broker's own queue,
   * in order), so the next one can start when the call returns; a retained
   * or QoS 1 one is stored first, asynchronously, so the next one waits for
   * its callback (a state waited a whole event-loop turn behind its edge).
   */
  #outgoing: Outgoing[] = [];
  #next = 0;
  #publishing = false;
  #connected = false;
  #closed = false;
  #stopped = false;
  #untaken = 0;
  readonly #idle: (() => void)[] = [];

  constructor(broker: EmbeddedBroker, log: Logger) {
    super();
    this.#broker = broker;
    this.#log = log;
    // Asynchronously, as a client would: whoever listens for 'connect' is wired by then.
    setImmediate(() => {
      if (this.#closed) return;
      this.#connected = true;
      this.#log.info('connected to MQTT broker embedded (in-process)');
      this.emit('connect');
    });
  }

  get connected(): boolean {
    return this.#connected && !this.#broker.aedes.closed;
  }

  subscribe(filter: string, handler: MessageHandler): Unsubscribe {
    const deliver: Deliver = (packet, done) => {
      // Aedes stamps each client's publication with its id (untyped); ours carry none, so the bridge never consumes its own.
      if (!this.#stopped && (packet as { clientId?: string }).clientId !== undefined) {
        this.emit('traffic', 'in');
        this.#wait(handler(packet.topic, Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload), false));
      }
      done();
    };
    const listener = { filter, deliver };
    this.#listeners.push(listener);
    this.#broker.aedes.subscribe(filter, deliver, () => {
      void this.#replayRetained(listener, handler);
    });
    return () => {
      const at = this.#listeners.indexOf(listener);
      if (at === -1) return;
      this.#listeners.splice(at, 1);
      if (!this.#closed && !this.#broker.aedes.closed) this.#broker.aedes.unsubscribe(filter, deliver, () => undefined);
    };
  }

  get handlers(): number {
    return this.#listeners.length;
  }

  async #replayRetained(listener: { filter: string; deliver: Deliver }, handler: MessageHandler): Promise<void> {
    const { filter } = listener;
    try {
      for await (const message of this.#broker.retained(filter)) {
        // Nothing after stopTaking(), nor for a subscription undone meanwhile.
        if (this.#stopped || !this.#listeners.includes(listener)) return;
        this.emit('traffic', 'in');
        this.#wait(handler(message.topic, message.payload, true));
      }
    } catch (error) {
      this.#log.error(`cannot read retained messages for ${filter}: ${(error as Error).message}`);
    }
  }

  /**
   * Publishes through the broker, one message at a time and in order, as a
   * client connection would. Overlapping them would reorder them (a
   * retained message is stored before it is routed) and Aedes would then
   * drop the later-numbered one at each subscriber as a duplicate.
   */
  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    if (!this.connected) return Promise.resolve();
    this.emit('traffic', 'out');
    const packet: PublishPacket = { cmd: 'publish', topic, payload: Buffer.from(payload), qos: publishQos(options), retain: options.retain ?? false, dup: false };
    return new Promise((resolve, reject) => {
      this.#outgoing.push({ packet, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (!this.#publishing) {
      const next = this.#outgoing[this.#next];
      if (next === undefined) {
        this.#outgoing = [];
        this.#next = 0;
        return;
      }
      this.#next += 1;
      this.#publishing = true;
      const waited = next.packet.retain || next.packet.qos > 0;
      let returned = false;
      this.#broker.aedes.publish(next.packet, (error) => {
        // Aedes calls back with null (not undefined, as it types it) on success.
        if (error instanceof Error) next.reject(error);
        else next.resolve();
        if (!waited) return;
        this.#publishing = false;
        // Called back synchronously, the loop goes on; later, the next one starts from here.
        if (returned) this.#pump();
      });
      returned = true;
      if (!waited) this.#publishing = false;
    }
  }

  #wait(taking: ReturnType<MessageHandler>): void {
    if (taking === undefined || taking.taken) return;
    this.#untaken += 1;
    taking.whenTaken(() => {
      this.#untaken -= 1;
      if (this.#untaken === 0) for (const resolve of this.#idle.splice(0)) resolve();
    });
  }

  get untaken(): number {
    return this.#untaken;
  }

  stopTaking(): Promise<void> {
    this.#stopped = true;
    if (this.#untaken === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Publishes `last` through the broker (in-process: `timeoutMs` bounds a broker whose storage hangs). */
  async close(last?: LastMessage, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
    if (this.#closed) return;
    this.#stopped = true;
    if (last !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
        await Promise.race([this.publish(last.topic, last.payload, { retain: last.retain, qos: 1 }), timeout]);
      } catch (error) {
        this.#log.warn(`could not publish ${last.topic} before closing: ${(error as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
    }
    this.#closed = true;
    this.#connected = false;
    if (!this.#broker.aedes.closed) {
      for (const { filter, deliver } of this.#listeners) this.#broker.aedes.unsubscribe(filter, deliver, () => undefined);
    }
  }
}
