/**
 * The MQTT client wrapper of vgpio2mqtt (the bridge with an external
 * broker, and the get/set/watch commands): mqtt.js over mqtt://, mqtts://,
 * ws://, wss:// or a unix socket. (With the embedded broker the bridge
 * uses the broker's own API instead: see broker-link.ts.) Given the nodes
 * of a cluster, it connects to the first that answers and fails over to the
 * next round the list. It reconnects on its own, keeps a
 * persistent session when asked (fixed client id, clean: false, QoS 1
 * subscriptions, so the broker queues commands while the bridge is away),
 * logs one line per outage instead of one per attempt, and routes incoming
 * messages to per-filter handlers. A QoS 1 message is acknowledged once
 * its handlers have taken it, and a journal makes the broker's redelivery
 * after a crash safe (acknowledger.ts, journal.ts).
 *
 * It speaks MQTT 5 and falls back to 3.1.1 for a broker that refuses 5
 * (Aedes, and so the embedded broker's listeners, speak only 3.1.1). MQTT 5
 * lets the client set its Receive Maximum, how many QoS 1 messages the
 * broker may have unacknowledged at it: 65,535, the protocol's maximum.
 * With 3.1.1 the broker's own limit applies (Mosquitto's
 * max_inflight_messages, 20 by default), and Mosquitto 2.0.11, Debian 12's,
 * drops or holds a flood of commands for good within a few thousand; with
 * the client's limit only after 100,000 or more (docs/configuration.md,
 * External broker).
 */
import { EventEmitter } from 'node:events';
import { createConnection } from 'node:net';
import type { Writable } from 'node:stream';
import mqtt, { MqttClient, type IClientOptions, type IClientPublishOptions, type IClientSubscribeOptions, type IPublishPacket } from 'mqtt';
import { levelsCover } from '../../broker/topic-filter.ts';
import { skipNumberCache } from '../../broker/number-cache.ts';
import type { Logger } from '../log.ts';
import { Acknowledger, type AppliedCheck } from './acknowledger.ts';
import { CommandJournal } from './journal.ts';
import { noDelay } from './no-delay.ts';
import { describeServer, readTls, ringOrder, serverList } from './server.ts';
import { publishQos, STOP_TIMEOUT_MS, type Intend, type LastMessage, type LinkEvents, type MessageHandler, type MqttLink, type PublishOptions, type Taking, type Unsubscribe } from './link.ts';

export interface ConnectionOptions {
  /**
   * An external broker URL (mqtt://, mqtts://, ws://, wss://, unix:///path),
   * or the mqtt:// and mqtts:// URLs of a cluster's nodes (a list, or one
   * string separated by commas): each new connection goes to the next one.
   */
  server: string | readonly string[];
  /** With several servers: start at the first (ordered, the default) or at a random one. */
  serverOrder?: 'ordered' | 'random';
  clientId: string;
  /** false: ask the broker to keep the session (subscriptions and queued QoS 1 messages) across disconnects. */
  clean: boolean;
  username?: string;
  password?: string;
  keepalive?: number;
  /** QoS of publications that do not name one (default: 1 retained, else 0). */
  qos?: 0 | 1;
  reconnectMs?: number;
  ca?: string | null;
  cert?: string | null;
  key?: string | null;
  rejectUnauthorized?: boolean;
  will?: { topic: string; payload: string; retain: boolean };
  /**
   * A private file recording which QoS 1 commands were applied and not yet
   * acknowledged (journal.ts), for a persistent session: a command the
   * broker delivers again after a crash is then not applied twice.
   * `applied` tells whether a command the previous run was writing when
   * it stopped reached shared memory.
   */
  journal?: { path: string; applied: AppliedCheck };
  /**
   * QoS 1 commands that may wait at once for their line's interrupt to be
   * acknowledged before the next message is read: the smallest per-line
   * queue_limit, so that this connection alone never overflows a line's
   * queue (default 16).
   */
  maxWaiting?: number;
  log: Logger;
}

interface Delivery {
  packet: IPublishPacket;
  /** What its handlers have yet to take, or 'repeat': a repeat of a command already applied. */
  waits: Taking[] | 'repeat';
}

/** MQTT 5's largest Receive Maximum: the broker may have this many QoS 1 messages unacknowledged at the bridge. */
const RECEIVE_MAXIMUM = 0xffff;
/** MQTT 5 Session Expiry Interval meaning "never". */
const SESSION_NEVER_EXPIRES = 0xffffffff;
/** CONNACK codes of a broker that does not speak the protocol version asked for (3.1.1's, then MQTT 5's). */
const UNSUPPORTED_VERSION = new Set([1, 132]);

/**
 * What handleMessage's callback gets for a command acknowledged later, by
 * us: mqtt.js then moves on without a PUBACK and ignores the error. One
 * object for all: a new Error per command (its stack trace captured) cost
 * a fifth of the bridge's time per command in a flood through Mosquitto.
 */
const ACKNOWLEDGED_LATER = new Error('acknowledged once taken');

/**
 * A filter's MQTT 5 Subscription Identifier: derived from the filter (FNV-1a,
 * into the identifier's range 1..268,435,455), not counted, so that the
 * commands a persistent session queued while the bridge was away, which
 * the broker delivers with the identifiers of the previous run's
 * subscriptions, reach the same handlers in this run.
 */
export function subscriptionId(filter: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(filter)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return (hash % 0xfffffff) + 1;
}

export class MqttConnection extends EventEmitter<LinkEvents> implements MqttLink {
  readonly client: MqttClient;
  readonly #log: Logger;
  readonly #handlers: { filter: string; levels: string[]; id: number; handler: MessageHandler }[] = [];
  /** Subscriptions carry identifiers: MQTT 5 with a broker that supports them. */
  #subscriptionIds = false;
  /** The socket's writes are held (corked) until the end of this turn of the event loop. */
  #batching = false;
  /** The broker(s), log-safe: the one URL, or the list in the order they are tried. */
  readonly #where: string;
  /** More than one server: mqtt.js goes round them, one per connection attempt. */
  readonly #ring: boolean;
  readonly #qos: 0 | 1 | undefined;
  #outage = false;
  #closing = false;
  /** The connection that is closing was refused MQTT 5 and is retried with 3.1.1 at once: not an outage. */
  #fallingBack = false;
  /** A broker refused MQTT 5 with a CONNACK: connect again with 3.1.1 once that connection has closed. */
  #reconnectAfterClose = false;
  /**
   * This connection sent its CONNECT and has had neither a packet back nor
   * an error (a refused or failed TCP connection is an error). The first
   * CONNECT goes out from mqtt.js's constructor, before any listener of ours.
   */
  #awaitingConnack = true;
  /** A broker answered this client's MQTT 5 CONNECT: a later close before any answer is an outage, not a refusal. */
  #heardMqtt5 = false;
  readonly #acks: Acknowledger;
  /** stopTaking() was called: messages are no longer handed to handlers, nor acknowledged. */
  #stopped = false;
  /** The QoS 1 message mqtt.js is delivering: its 'message' event comes first, then handleMessage with the same packet. */
  #delivery: Delivery | undefined;
  readonly #maxWaiting: number;
  /** A journal records what QoS 1 commands do. */
  readonly #journaled: boolean;

  constructor(options: ConnectionOptions) {
    super();
    skipNumberCache();
    this.#log = options.log;
    const servers = ringOrder(serverList(options.server), options.serverOrder ?? 'ordered');
    this.#ring = servers.length > 1;
    this.#where = servers.map(describeServer).join(', ');
    this.#qos = options.qos;
    this.#maxWaiting = options.maxWaiting ?? 16;
    const clientOptions: IClientOptions = {
      clientId: options.clientId,
      clean: options.clean,
      keepalive: options.keepalive ?? 30,
      reconnectPeriod: options.reconnectMs ?? 2000,
      connectTimeout: 10_000,
      // Offline publishes of states would be stale by the time they went out: states are republished on connect instead.
      queueQoSZero: false,
      // Subscriptions are (re)made by #subscribeAll on every connect.
      resubscribe: false,
      // A refused CONNACK (a login the broker does not know yet, "server unavailable" while it starts) is retried like
      // any other failed connection, as the log line says; mqtt.js would otherwise give up on the first.
      reconnectOnConnackError: true,
      protocolVersion: 5,
      properties: {
        receiveMaximum: RECEIVE_MAXIMUM,
        // MQTT 5 ends a session when its connection closes unless told otherwise; 3.1.1's clean: false keeps it.
        ...(options.clean ? {} : { sessionExpiryInterval: SESSION_NEVER_EXPIRES }),
      },
      // mqtt.js logs each step of each packet through the `debug` package, which checks whether its namespace is
      // on at every call (5% of the bridge's time under a command flood). Off unless DEBUG asks for something.
      ...(process.env.DEBUG === undefined || process.env.DEBUG === '' ? { log: (): void => undefined } : {}),
      ...(options.username === undefined || options.username === '' ? {} : { username: options.username }),
      ...(options.password === undefined || options.password === '' ? {} : { password: options.password }),
      ...(options.will === undefined ? {} : { will: { ...options.will, qos: 1 as const } }),
    };
    const server = servers[0] ?? '';
    if (server.startsWith('unix://')) {
      const path = server.slice('unix://'.length);
      this.client = new MqttClient(() => createConnection(path), clientOptions);
    } else {
      const ca = readTls(options.ca, 'CA');
      const cert = readTls(options.cert, 'certificate');
      const key = readTls(options.key, 'key');
      this.client = mqtt.connect(server, {
        ...clientOptions,
        ...(ca === undefined ? {} : { ca }),
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key }),
        rejectUnauthorized: options.rejectUnauthorized ?? true,
        // mqtt.js builds each connection to the next of these (by host, port and protocol), round the list, and
        // keeps going round on every reconnect: failover to the next node of a cluster. Lists hold mqtt:// and
        // mqtts:// URLs only (config/formats.ts): a WebSocket path or a unix socket has no place in these entries.
        ...(this.#ring ? { servers: servers.map(serverEntry) } : {}),
      });
    }
    const journal = options.journal === undefined ? undefined : { journal: new CommandJournal(options.journal.path), applied: options.journal.applied };
    this.#journaled = journal !== undefined;
    this.#acks = new Acknowledger(
      journal,
      (edge) => {
        this.client.publish(edge.topic, edge.payload, { qos: this.#qos ?? 0 });
      },
      () => {
        if (this.client.connected) this.client.sendPing();
      },
      this.#log,
    );
    this.#wire(options.reconnectMs ?? 2000);
    this.#deferAcks();
  }

  /**
   * mqtt.js sends a QoS 1 message's PUBACK when handleMessage calls back
   * (after the 'message' event), and reads no further packet until then.
   * A command taken at once is acknowledged that way. One that waits
   * behind its line's pending interrupt must not hold back the commands
   * for other lines (a flood over many lines would advance one line per
   * guest round trip): mqtt.js is let go on at once (an error to
   * handleMessage's callback makes it move on without a PUBACK; it logs
   * nothing) and the PUBACK is written here when the command is taken, in
   * the same turn as its edge (see Acknowledger). mqtt.js has no public
   * way to acknowledge later; `_sendPacket` is what its own handler calls.
   * At most maxWaiting such commands wait at once; past that mqtt.js is
   * let go on only when one is taken, so that a flood on one line waits
   * for the guest instead of overflowing the line's queue.
   * The broker matches a PUBACK by its packet identifier, so commands on
   * different lines may be acknowledged in another order than they came
   * (MQTT asks for arrival order; Mosquitto and Aedes take any order); on
   * one line they are taken, and acknowledged, in order.
   */
  #deferAcks(): void {
    this.client.handleMessage = (packet, callback): void => {
      const delivery = this.#delivery;
      this.#delivery = undefined;
      if (packet.qos !== 1 || delivery?.packet !== packet) {
        // After stopTaking(): not taken, so not acknowledged; the broker delivers it again to the next run.
        if (this.#stopped && packet.qos === 1) callback(new Error('not taken: the bridge is stopping'));
        else callback();
        return;
      }
      const id = packet.messageId ?? 0;
      if (delivery.waits === 'repeat') {
        this.#acks.repeat(id, callback);
        return;
      }
      if (delivery.waits.every((wait) => wait.taken)) {
        this.#acks.take(id, delivery.waits, callback);
        return;
      }
      this.#acks.take(id, delivery.waits, () => {
        this.#sendPuback(id);
      });
      this.#acks.whenFewerWaiting(this.#maxWaiting, () => {
        callback(ACKNOWLEDGED_LATER);
      });
    };
  }

  #sendPuback(messageId: number): void {
    if (!this.client.connected) return;
    (this.client as unknown as { _sendPacket(packet: { cmd: 'puback'; messageId: number; reasonCode: number }): void })._sendPacket({ cmd: 'puback', messageId, reasonCode: 0 });
  }

  #wire(reconnectMs: number): void {
    this.client.on('connect', (connack) => {
      // A command must not wait behind our last small packet (Nagle's algorithm); a WebSocket stream has no such option.
      noDelay(this.client);
      this.#fallingBack = false;
      if (this.protocolVersion === 5) this.#heardMqtt5 = true;
      this.#subscriptionIds = this.protocolVersion === 5 && connack.properties?.subscriptionIdentifiersAvailable !== false;
      this.#log.info(`connected to MQTT broker ${this.#current()}${connack.sessionPresent ? ' (session resumed)' : ''}`);
      this.#outage = false;
      this.#acks.connected(connack.sessionPresent);
      this.#subscribeAll();
      this.emit('connect');
    });
    this.client.on('error', (error: Error & { code?: unknown }) => {
      this.#awaitingConnack = false;
      if (this.#closing) return;
      if (this.#fallBack(error)) return;
      const message = this.#ring
        ? `MQTT broker ${this.#current()}: ${error.message}; trying the next of ${this.#where} every ${reconnectMs} ms`
        : `MQTT broker ${this.#where}: ${error.message}; retrying every ${reconnectMs} ms`;
      if (this.#outage) this.#log.debug(message);
      else this.#log.error(message);
      this.#outage = true;
    });
    // What reached the broker: it answers a connection's packets in order (see Acknowledger).
    this.client.on('packetsend', (packet) => {
      if (packet.cmd === 'connect') this.#awaitingConnack = true;
      if (packet.cmd === 'puback' && packet.messageId !== undefined) this.#acks.sentAck(packet.messageId);
      else if (packet.cmd === 'pingreq') this.#acks.sentPing();
    });
    this.client.on('packetreceive', (packet) => {
      this.#awaitingConnack = false;
      if (packet.cmd === 'pingresp') this.#acks.pong();
    });
    // Before mqtt.js's own listener, which emits 'offline': a fallback is no outage.
    this.client.prependListener('close', () => {
      const silent = this.#awaitingConnack;
      this.#awaitingConnack = false;
      // RabbitMQ 3.10 answers an MQTT 5 CONNECT by closing the connection, without the CONNACK the protocol asks for.
      if (silent && !this.#closing && !this.#heardMqtt5 && this.client.options.protocolVersion === 5) this.#useMqtt311('it closed the connection in answer to an MQTT 5 CONNECT', true);
    });
    // After mqtt.js's own 'close' listener, which set up its retry timer: connecting now clears it.
    this.client.on('close', () => {
      this.#acks.disconnected();
      if (!this.#reconnectAfterClose) return;
      this.#reconnectAfterClose = false;
      this.#reconnectNow();
    });
    this.client.on('offline', () => {
      if (this.#closing) return;
      if (this.#fallingBack) {
        this.#fallingBack = false;
        return;
      }
      if (!this.#outage) {
        this.#log.warn(this.#ring ? `lost MQTT broker ${this.#current()}; trying the next of ${this.#where} every ${reconnectMs} ms` : `lost MQTT broker ${this.#where}; reconnecting every ${reconnectMs} ms`);
      }
      this.#outage = true;
      this.emit('offline');
    });
    // The retain flag of a delivered message is set only when the broker replays a stored retained message (MQTT 3.1.1,
    // and MQTT 5 without Retain As Published).
    this.client.on('message', (topic, payload, packet) => {
      if (this.#stopped) return;
      this.#batchWrites();
      this.emit('traffic', 'in');
      if (packet.qos === 1 && this.#acks.repeated(packet.messageId ?? 0, packet.dup)) {
        this.#delivery = { packet, waits: 'repeat' };
        return;
      }
      const waits: Taking[] = [];
      const id = packet.messageId ?? 0;
      const intend: Intend | undefined =
        packet.qos === 1 && this.#journaled
          ? (intent) => {
              this.#acks.intend(id, intent);
            }
          : undefined;
      // An MQTT 5 broker may deliver a message once per matching subscription (Mosquitto does: a bridge request on
      // <base>/bridge/request/set also matches <base>/+/+/set), each copy naming its subscription: such a copy goes to
      // that subscription's handlers only. Without identifiers the broker sends one copy, for every matching filter.
      const ids = packet.properties?.subscriptionIdentifier;
      const named = (id: number): boolean => ids === undefined || (typeof ids === 'number' ? ids === id : ids.includes(id));
      const levels = topic.split('/');
      for (const { levels: filter, id, handler } of this.#handlers) {
        if (!named(id) || !levelsCover(filter, levels)) continue;
        const wait = handler(topic, payload, packet.retain, intend);
        if (wait !== undefined) waits.push(wait);
      }
      if (packet.qos === 1) this.#delivery = { packet, waits };
    });
  }

  /**
   * After a broker refused MQTT 5 (a CONNACK saying so here; a close
   * without CONNACK in the 'close' listener): the next connection asks for 3.1.1, at
   * once, not after reconnect_ms. The session expiry then has no property
   * to go in: 3.1.1's clean: false alone keeps the session.
   */
  #fallBack(error: Error & { code?: unknown }): boolean {
    if (this.client.options.protocolVersion !== 5 || typeof error.code !== 'number' || !UNSUPPORTED_VERSION.has(error.code)) return false;
    this.#useMqtt311(error.message, false);
    return true;
  }

  #useMqtt311(why: string, closed: boolean): void {
    const options = this.client.options;
    options.protocolVersion = 4;
    delete options.properties;
    this.#fallingBack = true;
    this.#log.info(`MQTT broker ${this.#current()} does not speak MQTT 5 (${why}); using MQTT 3.1.1`);
    // The same broker again: mqtt.js would move on to the next of a list with this reconnect.
    if (this.#ring) this.client._reconnectCount -= 1;
    // Connecting clears mqtt.js's retry timer, so it must come after the refused connection has closed: mqtt.js sets
    // that timer up in its own 'close' listener, and a timer set after the new connection started would, a
    // reconnect_ms later, drop that working connection to connect once more (a CLI capture lost the edges published
    // in that gap). A CONNACK refusal closes the socket later (libuv's close phase, after this turn's setImmediate):
    // the reconnect waits for the 'close' listener below. A close without CONNACK is that close already.
    if (closed) this.#reconnectNow();
    else this.#reconnectAfterClose = true;
  }

  #reconnectNow(): void {
    setImmediate(() => {
      if (!this.#closing) this.client.reconnect();
    });
  }

  /** The broker of the current (or last) connection attempt, log-safe. */
  #current(): string {
    if (!this.#ring) return this.#where;
    const { protocol, host, port } = this.client.options;
    return `${protocol ?? 'mqtt'}://${host?.includes(':') === true ? `[${host}]` : host ?? ''}:${port ?? ''}`;
  }

  /** The MQTT version of the current (or next) connection: 5, or 4 (3.1.1) after a broker refused 5. */
  get protocolVersion(): 4 | 5 {
    return this.client.options.protocolVersion === 5 ? 5 : 4;
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Resolves once connected; rejects after `timeoutMs`. */
  waitConnected(timeoutMs: number): Promise<void> {
    if (this.client.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('connect', done);
        reject(new Error(`no connection to MQTT broker ${this.#where} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.once('connect', done);
    });
  }

  /**
   * Routes messages matching `filter` to `handler`, and subscribes with QoS 1
   * now (if connected) and on every reconnect. Messages a persistent session
   * held while we were away arrive right after the reconnect and are routed
   * the same way.
   */
  subscribe(filter: string, handler: MessageHandler): Unsubscribe {
    const unsubscribe = this.#addHandler(filter, handler);
    if (this.client.connected) this.#subscribeOne(filter);
    return unsubscribe;
  }

  get handlers(): number {
    return this.#handlers.length;
  }

  /**
   * Holds what the bridge writes to the broker (PUBACKs, states, edges)
   * until the end of this turn of the event loop, so that the commands of
   * one socket read, which mqtt.js hands over one per tick, leave as one
   * write instead of one system call each (a write per command was a fifth
   * of the bridge's time under a command flood). A lone command's doorbell
   * is rung before this; only its answers wait, for the rest of the turn.
   */
  #batchWrites(): void {
    const stream = this.client.stream as Partial<Pick<Writable, 'cork' | 'uncork'>> | undefined;
    if (this.#batching || stream?.cork === undefined || stream.uncork === undefined) return;
    this.#batching = true;
    stream.cork();
    setImmediate(() => {
      this.#batching = false;
      stream.uncork?.();
    });
  }

  #subscribeAll(): void {
    for (const filter of new Set(this.#handlers.map((h) => h.filter))) this.#subscribeOne(filter);
  }

  /** Adds the route; what it returns removes it, and the broker subscription with the filter's last handler (not once stopping). */
  #addHandler(filter: string, handler: MessageHandler): Unsubscribe {
    const entry = { filter, levels: filter.split('/'), id: subscriptionId(filter), handler };
    this.#handlers.push(entry);
    return () => {
      const at = this.#handlers.indexOf(entry);
      if (at === -1) return;
      this.#handlers.splice(at, 1);
      // Once stopping, the broker keeps the subscription: it is part of the persistent session, through which the
      // broker keeps the commands published while the bridge is away for the next run (and redelivers those not taken).
      if (this.#stopped || this.#closing || !this.client.connected) return;
      if (!this.#handlers.some((h) => h.filter === filter)) {
        this.client.unsubscribe(filter, (error) => {
          // mqtt.js passes null, not undefined, when it went well.
          if (error instanceof Error) this.#log.warn(`cannot unsubscribe from ${filter}: ${error.message}`);
        });
      }
    };
  }

  #subscribeOptions(filter: string): IClientSubscribeOptions {
    return this.#subscriptionIds ? { qos: 1, properties: { subscriptionIdentifier: subscriptionId(filter) } } : { qos: 1 };
  }

  #subscribeOne(filter: string): void {
    this.client.subscribe(filter, this.#subscribeOptions(filter), (error, granted) => {
      // 128 in 3.1.1; in MQTT 5 any code from 128 up (135: not authorized).
      const refused = granted?.some((g) => g.qos >= 128) ?? false;
      if (error !== null || refused) this.#log.error(`cannot subscribe to ${filter}: ${error?.message ?? 'refused by the broker'}`);
    });
  }

  /** Subscribes and resolves once the broker granted it (for clients that must not miss the first message). */
  async subscribeNow(filter: string, handler: MessageHandler): Promise<Unsubscribe> {
    const unsubscribe = this.#addHandler(filter, handler);
    const granted = await this.client.subscribeAsync(filter, this.#subscribeOptions(filter));
    if (granted.some((g) => g.qos >= 128)) throw new Error(`the broker refused the subscription to ${filter}`);
    return unsubscribe;
  }

  /**
   * Publishes. Retained messages (states) go with QoS 1 unless told
   * otherwise: a broker under back-pressure may drop QoS 0 messages to a
   * busy subscriber (Aedes does), and a state must not be lost. While
   * disconnected nothing is queued: every state is republished on connect,
   * so a queue would only replay stale ones.
   */
  async publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    const publishOptions: IClientPublishOptions = { retain: options.retain ?? false, qos: options.qos ?? this.#qos ?? publishQos(options) };
    if (!this.client.connected) return;
    this.emit('traffic', 'out');
    // Also an edge published from a scan: it leaves in one write with the PUBACK of the command that made it (see Acknowledger).
    this.#batchWrites();
    if (publishOptions.qos === 0) {
      // No callback: mqtt.js adds a 'drain' listener for each packet written with one while the socket is past its
      // high-water mark, which it is within a turn of batched writes under a flood, and removing thousands of them
      // one by one was half of the bridge's time. A QoS 0 packet is done once written; a write error closes the
      // connection, and the reconnect republishes every state.
      this.client.publish(topic, payload, publishOptions);
      return;
    }
    await this.client.publishAsync(topic, payload, publishOptions);
  }

  get untaken(): number {
    return this.#acks.untaken;
  }

  stopTaking(): Promise<void> {
    this.#stopped = true;
    return this.#acks.idle();
  }

  /**
   * Publishes `last` (if given) and disconnects cleanly; the will is not
   * sent. Gives up on a broker that has not answered within `timeoutMs`,
   * saying what may not have reached it.
   */
  async close(last?: LastMessage, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
    this.#closing = true;
    this.#stopped = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, timeoutMs, 'timeout')));
    try {
      if (last !== undefined && this.client.connected) {
        const sent = this.client.publishAsync(last.topic, last.payload, { retain: last.retain, qos: 1 }).then(
          () => 'sent' as const,
          (error: unknown) => {
            this.#log.warn(`could not publish ${last.topic} before closing: ${(error as Error).message}`);
            return 'failed' as const;
          },
        );
        // Acknowledged after everything written before it: every PUBACK sent so far reached the broker.
        if ((await Promise.race([sent, timeout])) === 'sent') this.#acks.confirmed();
      }
      if ((await Promise.race([this.client.endAsync(!this.client.connected).then(() => 'ended' as const), timeout])) === 'timeout') {
        this.#log.warn(`MQTT broker ${this.#where} did not answer within ${timeoutMs} ms; closing the connection anyway`);
        await this.client.endAsync(true);
      }
    } finally {
      clearTimeout(timer);
      const unconfirmed = this.#acks.unconfirmed;
      if (unconfirmed > 0) {
        this.#log.warn(`${unconfirmed} command acknowledgement(s) may not have reached the broker: it delivers those commands again, and the next run acknowledges them without applying them again and publishes their edges if they may not have gone out`);
      }
      this.#acks.close();
    }
  }
}

/**
 * The servers in the order they are tried: as given, or (random) turned
 * round to start at a random one, so that bridges given the same list
 * spread across a cluster's nodes and still fail over through all of them.
 */
/** A list entry as mqtt.js's `servers` takes it. */
function serverEntry(server: string): { protocol: 'mqtt' | 'mqtts'; host: string; port: number } {
  const url = new URL(server);
  const tls = url.protocol === 'mqtts:';
  return { protocol: tls ? 'mqtts' : 'mqtt', host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? (tls ? 8883 : 1883) : Number(url.port) };
}
