/**
 * The embedded MQTT broker (Aedes): plain TCP (with Nagle off, so a
 * command is not held back waiting for more bytes), optional WebSocket and
 * TLS listeners, optional username/password authentication with per-user
 * publish/subscribe topic filters, optional on-disk persistence of
 * retained messages and sessions. The bridge itself publishes and
 * subscribes through Aedes' own API (bridge/mqtt/broker-link.ts), so it
 * works with every network listener turned off and is never subject to
 * user ACLs. Network clients are held to limits (frame-guard.ts: packet
 * size, publish rate, unsent output), WebSocket requests from foreign web
 * sites are refused before the handshake (origin-guard.ts), and each
 * refusal is reported with its kind through the `refused` hook. Aedes'
 * per-client `$SYS` announcements are not published
 * (client-announcements.ts).
 */
import { Aedes, type AuthenticateError, type Client, type Connection } from 'aedes';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { timingSafeEqual, createHash } from 'node:crypto';
import { filterCovers } from './topic-filter.ts';
import type { Persistence } from './persistence.ts';
import { TokenBucket, boundOutput, watchPacketSizes, type ClientLimits } from './frame-guard.ts';
import { OriginGuard, refuseUpgrade } from './origin-guard.ts';
import { skipNumberCache } from './number-cache.ts';
import { withoutClientAnnouncements } from './client-announcements.ts';
import type { WebSocket, WebSocketServer } from 'ws';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface BrokerUser {
  username: string;
  password: string;
  /** Topic filters this user may publish to; default: everything. */
  publish?: string[];
  /** Topic filters this user may subscribe to; default: everything. */
  subscribe?: string[];
}

export interface EmbeddedBrokerOptions {
  /** Plain MQTT over TCP; `null` turns it off. */
  tcp: ListenAddress | null;
  /** MQTT over WebSocket (path `/` and `/mqtt`); `null` turns it off. */
  ws: ListenAddress | null;
  /** MQTT over TLS; `null` turns it off. */
  tls: (ListenAddress & { cert: string; key: string; ca?: string }) | null;
  /** When non-empty, clients must log in as one of these users. */
  users: BrokerUser[];
  /** Directory for retained messages and sessions that survive restarts; `null` keeps them in memory. */
  persistenceDir: string | null;
  /** Limits for network clients (the bridge itself, through Aedes' API, and guest agents are exempt); default DEFAULT_BROKER_LIMITS. */
  limits?: BrokerLimits;
  /** Told each time a network client is refused or dropped for breaking a limit or a rule, with the kind of refusal. */
  refused?: (reason: string, kind: RefusalKind) => void;
  /** Origins besides its own whose pages may use the `ws` listener (web.allowed_origins); default none. */
  allowedOrigins?: readonly string[];
}

/**
 * Why a network client was refused or dropped; the `reason` label of the
 * refusal metric. `origin`/`host`: a WebSocket or page request from a
 * foreign site (origin-guard.ts); `protocol`: a CONNECT of an MQTT version
 * Aedes does not speak; `topic`: a PUBLISH whose topic MQTT forbids or the
 * broker keeps for itself (`$SYS/`).
 */
export type RefusalKind = 'max_connections' | 'packet_size' | 'output' | 'origin' | 'host' | 'protocol' | 'topic';

export interface BrokerLimits extends ClientLimits {
  /** Network clients connected at once; more are closed at once. */
  maxConnections: number;
  /** Bytes a network client may leave unsent (it does not read); past them it is disconnected. */
  maxClientOutputBytes: number;
}

/**
 * 1 MiB packets: the largest message vgpio2mqtt itself publishes (bridge/info,
 * a 1024-line chip's discovery) is tens of KiB, so this leaves room while
 * bounding what one client makes the broker buffer. 100 connections, each
 * buffering at most one packet, bound that buffering to 100 MiB; a Home
 * Assistant, a few dashboards and scripts use a handful. 1000 PUBLISH
 * packets per second per client is far above what people and automations
 * send, and keeps one flooding client from taking the broker's time.
 * 8 MiB unsent per client: eight of the largest packets, or tens of seconds
 * of a browser page's traffic under a flood of edges (about 200 KB/s at
 * 2,000 messages/s), so a page in a busy or briefly frozen tab keeps its
 * connection; 100 stalled clients then hold at most 800 MiB, where one
 * stalled client used to grow the process without bound.
 */
export const DEFAULT_BROKER_LIMITS: BrokerLimits = { maxPacketBytes: 1 << 20, maxConnections: 100, publishRate: 1000, maxClientOutputBytes: 8 << 20 };

export interface BrokerAddresses {
  tcp?: ListenAddress;
  ws?: ListenAddress;
  tls?: ListenAddress;
}

/** CONNACK return code 4. Aedes types it as an ambient const enum, which isolated modules cannot import. */
const BAD_USERNAME_OR_PASSWORD = 4;

function sameSecret(a: string, b: Buffer): boolean {
  // Compare digests so the comparison time depends on neither length nor content.
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

function loginRefused(message: string): AuthenticateError {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- see BAD_USERNAME_OR_PASSWORD
  const returnCode: AuthenticateError['returnCode'] = BAD_USERNAME_OR_PASSWORD;
  return Object.assign(new Error(message), { returnCode });
}

async function listenOn(server: NetServer | HttpServer, address: ListenAddress, what: string): Promise<ListenAddress> {
  await new Promise<void>((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException): void => {
      reject(new Error(`cannot listen for ${what} on ${address.host}:${address.port}: ${error.code ?? error.message}`));
    };
    server.once('error', fail);
    server.listen(address.port, address.host, () => {
      server.off('error', fail);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return { host: bound.address, port: bound.port };
}

/**
 * ws sends every write() as a WebSocket frame of its own, and Aedes
 * (mqtt-packet) writes one MQTT packet in several pieces, about eight for a
 * PUBLISH: a browser then handles eight messages per packet, which capped
 * the web view near 2,000 packets/s (bench/web.ts). Here the writes made
 * in one tick leave as one frame; MQTT over WebSocket lets a frame carry
 * several packets or part of one.
 */
function oneFramePerTick(stream: Duplex): Duplex {
  const internals = stream as unknown as { _write(chunk: Buffer, encoding: string, callback: (error?: Error | null) => void): void };
  const writeOne = internals._write.bind(stream);
  stream._writev = (chunks, callback) => {
    writeOne(Buffer.concat(chunks.map(({ chunk }) => chunk as Buffer)), 'buffer', callback);
  };
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((...args: unknown[]): boolean => {
    if (stream.writableCorked === 0) {
      stream.cork();
      process.nextTick(() => {
        stream.uncork();
      });
    }
    return write(...args);
  }) as Duplex['write'];
  return stream;
}

/**
 * Aedes writes each delivery to a client in a setImmediate of its own, and
 * mqtt-packet flushes at the end of each tick: every message to a network
 * client cost a system call of its own (writev was 14% of the bridge's CPU
 * under a command flood, each command's edge one call to the subscriber).
 * Here what is written to the socket in one turn of the event loop leaves
 * in one writev, at the next check phase: a write from the poll phase (a
 * PUBACK) leaves in the same turn, one from Aedes' immediates (a delivery)
 * after the next poll, which has nothing to wait for while immediates are
 * queued. Back-pressure is unchanged: write() still returns false past the
 * high-water mark, and the drain Aedes waits for follows the flush.
 *
 * The first packet a client is sent, its CONNACK, leaves at the end of the
 * tick that wrote it: the client sends nothing until it has it, so there is
 * nothing to join it with, and Aedes writes it from an immediate, so waiting
 * for the next check phase held a one-shot client (connect, publish,
 * disconnect) back by a turn of the event loop and Aedes' work after the
 * CONNACK.
 */
function oneWritePerTurn(stream: Duplex): Duplex {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  let corked = false;
  let connack = true;
  const flush = (): void => {
    corked = false;
    stream.uncork();
  };
  stream.write = ((...args: unknown[]): boolean => {
    if (!corked) {
      corked = true;
      stream.cork();
      if (connack) process.nextTick(flush);
      else setImmediate(flush);
      connack = false;
    }
    return write(...args);
  }) as Duplex['write'];
  return stream;
}

/** A client's remote address, for log lines. */
function remoteOf(client: Client): string {
  // Aedes does not type its client's connection; a WebSocket stream has no remoteAddress (Aedes keeps the request's).
  const { conn, req } = client as unknown as { conn?: { remoteAddress?: string }; req?: { socket?: { remoteAddress?: string } } };
  return conn?.remoteAddress ?? req?.socket?.remoteAddress ?? 'unknown address';
}

export class EmbeddedBroker {
  readonly aedes: Aedes;
  readonly addresses: BrokerAddresses = {};
  readonly #servers: (NetServer | HttpServer)[] = [];
  readonly #users: Map<string, BrokerUser>;
  readonly #persistence: Persistence | undefined;
  /** Open network connections, ended gracefully on close. */
  readonly #network = new Set<Duplex>();
  /** Which user each client logged in as. */
  readonly #clientUsers = new WeakMap<Client, BrokerUser>();
  readonly #limits: { limits: BrokerLimits; refused: (reason: string, kind: RefusalKind) => void };
  /** Each network client's PUBLISH budget under broker.max_publish_rate. */
  readonly #rates = new WeakMap<Client, TokenBucket>();

  private constructor(aedes: Aedes, options: EmbeddedBrokerOptions, persistence: Persistence | undefined) {
    const { users } = options;
    this.aedes = aedes;
    this.#limits = { limits: options.limits ?? DEFAULT_BROKER_LIMITS, refused: options.refused ?? ((): void => undefined) };
    this.#users = new Map(users.map((u) => [u.username, u]));
    this.#persistence = persistence;
  }

  /** Starts Aedes and every configured listener; on any failure, closes what was started and throws. */
  static async start(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    // LevelDB is loaded only when configured, ws at the first WebSocket client: each costs resident memory an idle bridge need not hold.
    const persistence = options.persistenceDir === null ? undefined : await (await import('./persistence.ts')).openPersistence(options.persistenceDir);
    skipNumberCache();
    const aedes = await Aedes.createBroker(persistence === undefined ? {} : { persistence: persistence.aedes });
    withoutClientAnnouncements(aedes);
    const broker = new EmbeddedBroker(aedes, options, persistence);
    broker.#installAuth();
    try {
      await broker.#listen(options);
    } catch (error) {
      await broker.close();
      throw error;
    }
    return broker;
  }

  /**
   * Counts the connection and hands it to Aedes with its limits, or refuses
   * it over broker.max_connections. `unsent`: the bytes the connection
   * holds that the client has not taken yet; `from`: its remote address,
   * asked only for a refusal's log line (a getpeername system call per
   * connection otherwise).
   */
  #admit(socket: Duplex, unsent: () => number, from: () => string, request?: IncomingMessage): void {
    const { limits, refused } = this.#limits;
    if (this.#network.size >= limits.maxConnections) {
      refused(`connection from ${from()} refused: ${limits.maxConnections} network clients already connected (broker.max_connections)`, 'max_connections');
      socket.destroy();
      return;
    }
    this.#track(socket);
    const client = this.aedes.handle(socket, request);
    watchPacketSizes(socket, limits.maxPacketBytes, (reason) => {
      refused(`client dropped: ${reason}`, 'packet_size');
    });
    boundOutput(socket, limits.maxClientOutputBytes, unsent, (bytes) => {
      // Aedes types the id as always set; it is undefined until CONNECT.
      refused(`client ${(client.id as string | undefined) ?? '(not connected yet)'} from ${from()} dropped: ${bytes} bytes it has not read are waiting, more than broker.max_client_output_bytes (${limits.maxClientOutputBytes})`, 'output');
    });
    if (limits.publishRate !== null) this.#rates.set(client, new TokenBucket(limits.publishRate));
  }

  /**
   * Serves MQTT over WebSocket on `path` of an HTTP server someone else
   * owns (the web view's, so the page needs no port of its own). Its clients
   * are network clients like any other: same logins, rules and limits.
   * Returns a function that stops accepting and closes them. `guard`
   * refuses requests from foreign sites (403) before the handshake.
   *
   * ws is loaded at the first upgrade request, not before: a bridge whose
   * page nobody opens never holds it (about 1 MiB of resident memory).
   */
  serveWebSocket(server: HttpServer, path: string | undefined, guard: OriginGuard): () => void {
    let wss: Promise<WebSocketServer> | undefined;
    let closed = false;
    const upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
      const refusal = guard.check(request);
      if (refusal !== undefined) {
        this.#limits.refused(`WebSocket ${refusal.reason}`, refusal.kind);
        socket.on('error', () => undefined);
        refuseUpgrade(socket, refusal);
        return;
      }
      // Node has taken its error listener off an upgraded socket; until ws adds its own, a reset would be unhandled.
      const drop = (): void => {
        socket.destroy();
      };
      socket.on('error', drop);
      wss ??= this.#webSocketServer(path);
      wss.then(
        (ready) => {
          socket.off('error', drop);
          if (closed) socket.destroy();
          // A path other than `path` is answered 400 by handleUpgrade, as ws does for a server it owns.
          else ready.handleUpgrade(request, socket, head, (ws) => ready.emit('connection', ws, request));
        },
        drop,
      );
    };
    server.on('upgrade', upgrade);
    return () => {
      closed = true;
      server.off('upgrade', upgrade);
      void wss?.then((ready) => {
        ready.close();
      });
    };
  }

  async #webSocketServer(path: string | undefined): Promise<WebSocketServer> {
    const { createWebSocketStream, WebSocketServer } = await import('ws');
    const wss = new WebSocketServer(path === undefined ? { noServer: true } : { noServer: true, path });
    wss.on('connection', (socket: WebSocket, request) => {
      const stream = oneFramePerTick(createWebSocketStream(socket));
      this.#admit(stream, () => stream.writableLength + socket.bufferedAmount, () => request.socket.remoteAddress ?? 'unknown address', request);
    });
    return wss;
  }

  async #listen(options: EmbeddedBrokerOptions): Promise<void> {
    const handle = (socket: Socket): void => {
      this.#admit(oneWritePerTurn(socket), () => socket.writableLength, () => socket.remoteAddress ?? 'unknown address');
    };
    if (options.tcp !== null) {
      const server = createNetServer({ noDelay: true }, handle);
      this.#servers.push(server);
      this.addresses.tcp = await listenOn(server, options.tcp, 'MQTT');
    }
    if (options.tls !== null) {
      const { cert, key, ca } = options.tls;
      const read = (path: string, what: string): Buffer => {
        try {
          return readFileSync(path);
        } catch (error) {
          throw new Error(`cannot read TLS ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
        }
      };
      // Loaded here, not at the top: node:tls costs an idle bridge without a TLS listener ~1 MiB of RSS.
      const { createServer: createTlsServer } = await import('node:tls');
      const server = createTlsServer(
        { cert: read(cert, 'certificate'), key: read(key, 'key'), ...(ca === undefined ? {} : { ca: read(ca, 'CA') }) },
        (socket) => {
          socket.setNoDelay(true);
          handle(socket);
        },
      );
      this.#servers.push(server);
      this.addresses.tls = await listenOn(server, options.tls, 'MQTT over TLS');
    }
    if (options.ws !== null) {
      const http = createHttpServer((request, response) => {
        // Nothing but WebSocket upgrades here.
        response.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('MQTT over WebSocket only\n');
      });
      const guard = new OriginGuard(options.ws.host, () => (http.address() as AddressInfo).port, options.allowedOrigins ?? []);
      this.serveWebSocket(http, undefined, guard);
      this.#servers.push(http);
      this.addresses.ws = await listenOn(http, options.ws, 'MQTT over WebSocket');
    }
  }

  #track(stream: Duplex): void {
    this.#network.add(stream);
    stream.once('close', () => this.#network.delete(stream));
  }

  #installAuth(): void {
    const userOf = (client: Client | null): BrokerUser | undefined =>
      client === null ? undefined : this.#clientUsers.get(client);
    // The bridge publishes and subscribes through Aedes' own API, with no client: only it is trusted.
    const trusted = (client: Client | null): boolean => client === null;

    this.aedes.authenticate = (client, username, password, done) => {
      if (this.#users.size === 0) {
        done(null, true);
        return;
      }
      const user = username === undefined ? undefined : this.#users.get(username);
      if (user === undefined || password === undefined || !sameSecret(user.password, password)) {
        done(loginRefused('bad username or password'), false);
        return;
      }
      this.#clientUsers.set(client, user);
      done(null, true);
    };
    const allowed = (client: Client | null, topic: string): Error | null => {
      const user = userOf(client);
      if (trusted(client) || user?.publish === undefined) return null;
      if (user.publish.some((filter) => filterCovers(filter, topic))) return null;
      return new Error(`user ${user.username} may not publish to ${topic}`);
    };
    this.aedes.preConnect = (client, packet, callback) => {
      // Aedes answers any version but 3 and 4 with CONNACK 1 (unacceptable protocol version) and closes; this says why.
      if (packet.protocolVersion !== 3 && packet.protocolVersion !== 4) {
        const version = packet.protocolVersion === 5 ? 'MQTT 5' : `MQTT protocol version ${String(packet.protocolVersion)}`;
        this.#limits.refused(`client ${packet.clientId === '' ? '(no id)' : packet.clientId} from ${remoteOf(client)} refused: ${version} is not supported by the embedded broker; use protocol version 4 (MQTT 3.1.1)`, 'protocol');
      }
      callback(null, true);
    };
    this.aedes.authorizePublish = (client, packet, callback) => {
      if (client !== null && packet.topic.includes('\0')) {
        // MQTT 3.1.1 §1.5.3 and §4.8: a topic holding U+0000 is a protocol violation, which closes the connection (Aedes does on this error).
        this.#limits.refused(`client ${client.id} from ${remoteOf(client)} dropped: PUBLISH topic holds U+0000, which MQTT forbids`, 'topic');
        callback(new Error('topic holds U+0000'));
        return;
      }
      if (client !== null && packet.topic.startsWith('$SYS/')) {
        // Aedes' own authorizePublish, which this one replaces, refuses these too: Aedes acts on some (a client id on .../new/clients is disconnected).
        this.#limits.refused(`client ${client.id} from ${remoteOf(client)} dropped: PUBLISH to ${packet.topic}; $SYS/ topics are the broker's own`, 'topic');
        callback(new Error('$SYS/ topics are the broker\'s own'));
        return;
      }
      const verdict = allowed(client, packet.topic);
      // A client over its rate is answered late, not refused: Aedes reads no more of it meanwhile.
      const wait = (client === null ? undefined : this.#rates.get(client)?.take()) ?? 0;
      if (wait <= 0) callback(verdict);
      else setTimeout(callback, wait, verdict);
    };
    this.aedes.authorizeSubscribe = (client, subscription, callback) => {
      const user = userOf(client);
      if (trusted(client) || user?.subscribe === undefined) {
        callback(null, subscription);
        return;
      }
      const allowed = user.subscribe.some((filter) => filterCovers(filter, subscription.topic));
      // A refused subscription is answered with a SUBACK failure code (null), not a disconnect.
      callback(null, allowed ? subscription : null);
    };
  }

  /** Retained messages on topics matching `filter`, as the broker replays them to a new subscription. */
  retained(filter: string): AsyncIterable<{ topic: string; payload: Buffer }> {
    // Aedes does not type its persistence; every persistence it accepts has this method.
    const { persistence } = this.aedes as unknown as { persistence: { createRetainedStreamCombi(patterns: string[]): AsyncIterable<{ topic: string; payload: Buffer }> } };
    return persistence.createRetainedStreamCombi([filter]);
  }

  /** Hands an already-open stream (e.g. a guest agent's virtio-serial socket) to the broker. */
  handle(stream: Connection): void {
    this.aedes.handle(stream);
  }

  get connectedClients(): number {
    return this.aedes.connectedClients;
  }

  /** Open network connections, what broker.max_connections counts. */
  get networkConnections(): number {
    return this.#network.size;
  }

  /**
   * Lets deliveries in flight (such as the bridge's last `offline`) reach
   * network clients: waits a moment for the broker's asynchronous routing,
   * then ends each network connection gracefully (end() flushes what is
   * buffered), waiting at most `timeoutMs` for them to close.
   */
  async #endConnections(timeoutMs: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 20));
    await Promise.all(
      [...this.#network].map(
        (conn) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, timeoutMs);
            conn.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            conn.end();
          }),
      ),
    );
  }

  /** Disconnects every client (network ones gracefully), stops listening, closes persistence. */
  async close(): Promise<void> {
    if (!this.aedes.closed) await this.#endConnections(1000);
    if (!this.aedes.closed) {
      await new Promise<void>((resolve) => {
        this.aedes.close(() => {
          resolve();
        });
      });
    }
    await Promise.all(
      this.#servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            if ('closeAllConnections' in server) server.closeAllConnections();
            server.close(() => {
              resolve();
            });
          }),
      ),
    );
    await this.#persistence?.close();
  }
}
