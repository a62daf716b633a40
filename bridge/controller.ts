/**
 * The bridge: starts the embedded broker (or not), opens every chip and
 * its guest-agent socket, links to MQTT (the embedded broker's own API, or
 * an MQTT client of the external broker with `bridge/state` as its will),
 * and runs the extensions (chips <-> MQTT, bridge requests, Home
 * Assistant). stop() first stops taking commands and finishes those it
 * took (within STOP_TIMEOUT_MS, see docs/topics.md), then takes it all
 * down in order: extensions, agent sockets
 * (the broker publishes each dropped agent's will), `bridge/state`
 * offline, MQTT, chips (their servers remove their sockets; shared memory
 * stays so the next run re-attaches keeping every level), broker.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { EmbeddedBroker, type RefusalKind } from '../broker/embedded.ts';
import { RateLimitedLog } from '../broker/log-limiter.ts';
import { join } from 'node:path';
import { preparePrivatePath } from '../native/index.ts';
import { AgentSocket } from './agent-link/agent-socket.ts';
import { relay, upstreamConnector } from './agent-link/relay.ts';
import { Chip } from './chip/chip.ts';
import { openChips } from './chip/open-chips.ts';
import type { Settings } from './settings/types.ts';
import { BridgeApi, OFFLINE } from './extensions/bridge-api.ts';
import { appliedCheck, ChipPublisher } from './extensions/chip-publisher.ts';
import type { BridgeEvent, Extension, ExtensionContext } from './extensions/extension.ts';
import { HomeAssistant } from './extensions/homeassistant/extension.ts';
import { HomeAssistantCleanup } from './extensions/homeassistant/cleanup.ts';
import { Logger } from './log.ts';
import { BrokerLink } from './mqtt/broker-link.ts';
import type { AppliedCheck } from './mqtt/acknowledger.ts';
import { Wires } from './signals/wires.ts';
import { STOP_TIMEOUT_MS, type MqttLink } from './mqtt/link.ts';
import { describeServer, describeServers, serverList } from './mqtt/server.ts';
import { Topics } from './mqtt/topics.ts';
import { healthReport } from './metrics/health.ts';
import { BridgeMetrics } from './metrics/metrics.ts';
import { MetricsCollector, type Counters, type ExtensionSignals } from './metrics/collect.ts';
import { MetricsServer } from './metrics/http-server.ts';
import { MQTT_PATH, WebServer } from './web-server/server.ts';
import { VERSION } from './version.ts';

export interface ControllerOptions {
  log?: Logger;
}

function listenersOf(broker: EmbeddedBroker): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kind of ['tcp', 'ws', 'tls'] as const) {
    const address = broker.addresses[kind];
    if (address !== undefined) out[kind] = `${address.host}:${address.port}`;
  }
  return out;
}

export class Controller {
  readonly settings: Settings;
  readonly topics: Topics;
  /** Running totals of what the bridge counts (bridge/request/health shows them). */
  readonly counters: Counters;
  readonly chips = new Map<string, Chip>();
  /** Per chip with an `agent_socket`: where its guest agent connects. */
  readonly agentSockets = new Map<string, AgentSocket>();
  readonly log: Logger;
  broker: EmbeddedBroker | undefined;
  mqtt: MqttLink | undefined;
  /** The /metrics and /health endpoint, unless metrics.port is null. */
  metricsServer: MetricsServer | undefined;
  /** The web view, unless web.enabled is false. */
  webServer: WebServer | undefined;
  readonly #extensions: Extension[] = [];
  /** The configured wires between chips (signals/wires.ts). */
  #wires: Wires | undefined;
  /** The link's 'connect' listener: every extension republishes what it owns. Removed at stop. */
  readonly #reconnected = (): void => {
    for (const extension of this.#extensions) extension.connected();
  };
  #stopping: Promise<void> | undefined;
  /** The Prometheus metrics, unless metrics.port is null. */
  readonly #metrics: BridgeMetrics | undefined;
  readonly #collector: MetricsCollector;
  /** Network clients refused by the embedded broker or the web view: counted, and logged without a line each. */
  readonly #refusals = new RateLimitedLog((line, kind) => {
    // An MQTT 5 client is no threat, and vgpio2mqtt's own get/set/watch try MQTT 5 first before falling back.
    if (kind === 'protocol') this.log.info(line);
    else this.log.warn(line);
  });
  readonly #refused = (reason: string, kind: RefusalKind): void => {
    this.#collector.refused(kind);
    this.#refusals.report(kind, reason);
  };

  private constructor(settings: Settings, options: ControllerOptions) {
    this.settings = settings;
    this.topics = new Topics(settings.baseTopic);
    this.log = options.log ?? new Logger(settings.logLevel);
    this.#collector = new MetricsCollector();
    this.#metrics = settings.metrics.port === null ? undefined : new BridgeMetrics(VERSION, this.#collector.recorded);
    this.counters = this.#collector.counters;
  }

  /** The Prometheus metrics, read from what the collector records, served over HTTP. */
  async #startMetrics(): Promise<void> {
    const { host, port } = this.settings.metrics;
    const metrics = this.#metrics;
    if (port === null || metrics === undefined) return;
    this.metricsServer = await MetricsServer.start({
      host,
      port,
      metrics,
      health: () => healthReport(this.mqtt?.connected ?? false, this.chips.values()),
    });
    const bound = this.metricsServer.address;
    this.log.info(`metrics on http://${bound.host}:${bound.port}/metrics, health on /health`);
  }

  /** The web view; with the embedded broker it also carries MQTT over WebSocket on /mqtt. */
  async #startWeb(): Promise<void> {
    const { web, baseTopic, mqtt } = this.settings;
    if (!web.enabled) return;
    const embedded = this.broker !== undefined;
    this.webServer = await WebServer.start({
      host: web.host,
      port: web.port,
      broker: this.broker,
      page: { base_topic: baseTopic, version: VERSION, mqtt: embedded ? MQTT_PATH : web.mqttUrl },
      allowedOrigins: web.allowedOrigins,
      refused: this.#refused,
    });
    const live = embedded ? `MQTT over WebSocket on ${MQTT_PATH}` : web.mqttUrl === null ? `no live view: set web.mqtt_url to the WebSocket listener of ${describeServers(mqtt.server)}` : `live view through ${web.mqttUrl}`;
    this.log.info(`web view on ${this.webServer.url} (${live})`);
  }

  /** Starts everything; on failure logs why, closes what was started and throws. */
  static async start(settings: Settings, options: ControllerOptions = {}): Promise<Controller> {
    const controller = new Controller(settings, options);
    try {
      await controller.#start();
    } catch (error) {
      // Said first, so the log reads "cannot start", then the undoing, then "stopped".
      controller.log.error(`cannot start: ${(error as Error).message}`);
      await controller.stop();
      throw error;
    }
    return controller;
  }

  async #start(): Promise<void> {
    const { settings, log } = this;
    log.info(`vgpio2mqtt ${VERSION} starting${settings.file === null ? ' with built-in defaults' : ` with ${settings.file}`}`);
    // First, so every chip's series are declared from the start.
    await this.#startMetrics();
    const embedded = settings.mqtt.server === 'embedded';
    if (embedded) {
      const b = settings.broker;
      const listen = (port: number | null): { host: string; port: number } | null => (port === null ? null : { host: b.host, port });
      this.broker = await EmbeddedBroker.start({
        tcp: listen(b.port),
        ws: listen(b.wsPort),
        // config/load.ts refuses a TLS port without both files.
        tls: b.tlsPort === null || b.tlsCert === null || b.tlsKey === null ? null : { host: b.host, port: b.tlsPort, cert: b.tlsCert, key: b.tlsKey, ...(b.tlsCa === null ? {} : { ca: b.tlsCa }) },
        users: b.users,
        persistenceDir: b.persistenceDir,
        limits: { maxPacketBytes: b.maxPacketBytes, maxConnections: b.maxConnections, publishRate: b.maxPublishRate, maxClientOutputBytes: b.maxClientOutputBytes },
        allowedOrigins: settings.web.allowedOrigins,
        refused: (reason, kind) => {
          this.#refused(`embedded MQTT broker: ${reason}`, kind);
        },
      });
      this.#collector.broker(this.broker);
      const where = Object.entries(listenersOf(this.broker)).map(([k, v]) => `${k} ${v}`).join(', ');
      log.info(`embedded MQTT broker listening on ${where === '' ? 'no network listener (in-process only)' : where}`);
    }

    await this.#startWeb();

    await openChips(settings.chips, log, (chip) => {
      this.chips.set(chip.config.name, chip);
      this.#collector.chip(chip);
    });

    await this.#startAgentSockets();

    const wires = new Wires(settings.wires, this.chips, log.child('wires'));
    this.#wires = wires;
    this.#collector.wires(wires);

    const broker = this.broker;
    // The embedded broker is reached through its own API, an external one through an MQTT client.
    this.mqtt = broker !== undefined ? new BrokerLink(broker, log.child('mqtt')) : await this.#externalConnection();
    this.#collector.link(this.mqtt);

    const mqtt = this.mqtt;
    const signals = new EventEmitter<ExtensionSignals>();
    this.#collector.extensions(signals);
    const ctx: ExtensionContext = {
      settings,
      topics: this.topics,
      mqtt,
      chips: this.chips,
      log,
      signals,
      counters: this.counters,
      version: VERSION,
      broker: {
        mode: embedded ? 'embedded' : 'external',
        server: embedded ? 'embedded' : describeServers(settings.mqtt.server),
        listeners: broker === undefined ? {} : listenersOf(broker),
      },
      web: this.webServer?.url ?? null,
      event: (event: BridgeEvent) => {
        ctx.publish(this.topics.bridgeEvent, JSON.stringify(event), false);
      },
      publish: (topic, payload, retain) => {
        mqtt.publish(topic, payload, { retain }).catch((error: unknown) => {
          log.warn(`could not publish ${topic}: ${(error as Error).message}`);
        });
      },
    };
    this.#extensions.push(new BridgeApi(ctx), new ChipPublisher(ctx));
    this.#extensions.push(settings.homeassistant.enabled ? new HomeAssistant(ctx) : new HomeAssistantCleanup(ctx));
    for (const extension of this.#extensions) extension.start();
    mqtt.on('connect', this.#reconnected);
    wires.on('contention', (net, drivers) => {
      ctx.event({ type: 'wire_contention', net, drivers, message: `net ${net} is driven both ways (${drivers.join(', ')}); it reads low` });
    });
    wires.on('problem', (message) => {
      ctx.event({ type: 'wire_problem', message });
    });
    // Before the chips start, so that it sees each output's first state.
    wires.start();
    for (const chip of this.chips.values()) chip.start();
  }

  /** An MQTT client of the external broker; mqtt.js is loaded only here (it costs about 19 MiB of resident memory). */
  async #externalConnection(): Promise<MqttLink> {
    const { settings, log } = this;
    const { MqttConnection } = await import('./mqtt/connection.ts');
    return new MqttConnection({
      server: settings.mqtt.server,
      serverOrder: settings.mqtt.serverOrder,
      clientId: settings.mqtt.clientId,
      clean: false,
      username: settings.mqtt.username,
      password: settings.mqtt.password,
      keepalive: settings.mqtt.keepalive,
      qos: settings.mqtt.qos,
      reconnectMs: settings.mqtt.reconnectMs,
      ca: settings.mqtt.ca,
      cert: settings.mqtt.cert,
      key: settings.mqtt.key,
      rejectUnauthorized: settings.mqtt.rejectUnauthorized,
      will: { topic: this.topics.bridgeState, payload: OFFLINE, retain: true },
      ...this.#journal(),
      maxWaiting: Math.min(...settings.chips.map((chip) => chip.queueLimit)),
      log: log.child('mqtt'),
    });
  }

  /**
   * The MQTT session's command journal (mqtt/journal.ts), in the bridge's
   * runtime folder: one per client id and broker, as the broker's session
   * is. A list of brokers is one cluster holding one session: one journal
   * for the list, whatever its order (sorted for the name), so failing over
   * to another node keeps the record of what was applied. A bridge without
   * chips has no commands to record.
   */
  #journal(): { journal?: { path: string; applied: AppliedCheck } } {
    const { mqtt, chips } = this.settings;
    const runtimeDir = chips[0]?.runtimeDir;
    if (runtimeDir === undefined) return {};
    const safe = (text: string): string => text.replace(/[^A-Za-z0-9._-]/g, '_');
    const brokers = safe(serverList(mqtt.server).map(describeServer).sort().join('+'));
    // A file name holds at most 255 bytes: a long list (or client id) is named by a digest instead.
    const name = `${safe(mqtt.clientId)}@${brokers}`;
    const path = join(runtimeDir, `mqtt-${name.length <= 160 ? name : createHash('sha256').update(name).digest('hex').slice(0, 32)}.journal`);
    preparePrivatePath(path, runtimeDir, 'MQTT command journal');
    return { journal: { path, applied: appliedCheck(this.chips, this.topics) } };
  }

  /**
   * Listens on every chip's agent socket. Each connection is one agent's
   * MQTT stream: served by the embedded broker, else relayed to the
   * external one. The bridge never publishes on the agent's topics: when a
   * connection closes, the broker's session for it ends without a
   * DISCONNECT (Aedes sees its stream end; the relay half-closes the
   * upstream), so the broker publishes the agent's own will.
   */
  async #startAgentSockets(): Promise<void> {
    const { settings } = this;
    const withAgent = settings.chips.filter((chip) => chip.agentSocket !== null);
    if (withAgent.length === 0) return;
    const broker = this.broker;
    const upstream = broker === undefined ? upstreamConnector(settings.mqtt) : undefined;
    const where = describeServers(settings.mqtt.server);
    for (const config of withAgent) {
      const path = config.agentSocket ?? '';
      const log = this.log.child(`chip ${config.name}`);
      let socket: AgentSocket;
      try {
        // As for ivshmem sockets: the runtime folder is ours to create, nobody else's folder or socket is used.
        preparePrivatePath(path, config.runtimeDir, 'socket');
        socket = await AgentSocket.listen({
          path,
          mode: config.socketMode,
          connection: (stream) => {
            log.info(`guest agent connected on ${path}`);
            if (broker !== undefined) broker.handle(stream);
            else if (upstream !== undefined) relay(stream, upstream, where, log);
          },
          closed: () => {
            log.info('guest agent connection closed (the broker publishes its will unless it disconnected cleanly)');
          },
        });
      } catch (error) {
        throw new Error(`chip ${config.name}: cannot accept guest agent connections: ${(error as Error).message}`, { cause: error });
      }
      this.agentSockets.set(config.name, socket);
      this.log.info(`chip ${config.name}: guest agent socket ${path} (${broker === undefined ? `relayed to ${where}` : 'served by the embedded broker'})`);
    }
  }

  /** Ordered shutdown; safe to call more than once. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /**
   * Stops taking commands and waits, at most `ms`, for those already taken
   * to reach shared memory (a change queued behind a pending interrupt
   * waits for the guest's acknowledgement), so that their edges and
   * states are published before the link closes.
   */
  async #finishCommands(ms: number): Promise<void> {
    const mqtt = this.mqtt;
    if (mqtt === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, ms, 'timeout')));
    const finished = await Promise.race([mqtt.stopTaking().then(() => 'done' as const), timeout]);
    clearTimeout(timer);
    if (finished === 'timeout') {
      this.log.warn(`${mqtt.untaken} command(s) still waiting for the guest after ${ms} ms: not applied and not acknowledged (an external broker delivers them again to the next run; with the embedded broker they are lost)`);
    }
  }

  async #stop(): Promise<void> {
    // The whole stop, whatever the broker or the guest do (docs/topics.md).
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    const left = (): number => Math.max(0, deadline - Date.now());
    await this.#finishCommands(left());
    this.mqtt?.off('connect', this.#reconnected);
    for (const extension of this.#extensions) extension.stop();
    this.#wires?.stop();
    await this.metricsServer?.close();
    // Before MQTT and the embedded broker close, so each dropped agent's will still goes out.
    await Promise.all([...this.agentSockets.values()].map((socket) => socket.close()));
    if (this.mqtt !== undefined) {
      await this.mqtt.close({ topic: this.topics.bridgeState, payload: OFFLINE, retain: true }, left());
    }
    for (const [name, chip] of this.chips) {
      try {
        await chip.close();
      } catch (error) {
        this.log.error(`chip ${name}: closing failed: ${(error as Error).message}`);
      }
    }
    // After the broker, which ends the page's WebSocket gracefully so it sees bridge/state offline.
    if (this.broker !== undefined) await this.broker.close();
    await this.webServer?.close();
    this.#refusals.close();
    this.log.info('stopped');
  }
}
