/**
 * The web view's HTTP listener: serves the page built by `npm run build`
 * (dist/web/, never built at run time) and, with the embedded broker, MQTT
 * over WebSocket on `/mqtt` of the same listener, so the page needs no port
 * of its own and meets the same logins, rules and limits as every other
 * MQTT client. `/config.json` tells the page its base topic and where its
 * MQTT is; it holds nothing secret. Requests from foreign sites are
 * refused (broker/origin-guard.ts): a wrong `Host` on every request, a
 * foreign `Origin` on the WebSocket.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EmbeddedBroker, RefusalKind } from '../../broker/embedded.ts';
import { OriginGuard } from '../../broker/origin-guard.ts';
import { webAssetsDir } from './assets.ts';

/** Path of the MQTT-over-WebSocket endpoint on the web listener. */
export const MQTT_PATH = '/mqtt';

/** What the page reads from /config.json. */
export interface PageConfig {
  base_topic: string;
  version: string;
  /** `/mqtt` on this listener, an external broker's ws(s):// URL, or null: no live view. */
  mqtt: string | null;
}

export interface WebServerOptions {
  host: string;
  port: number;
  page: PageConfig;
  /** The embedded broker, served on /mqtt; undefined with an external broker. */
  broker: EmbeddedBroker | undefined;
  /** Where the built page is; default: dist/web of this package. */
  assets?: string;
  /** Origins besides the listener's own whose pages may use it (web.allowed_origins); default none. */
  allowedOrigins?: readonly string[];
  /** Told each request refused for its Host or Origin (those on /mqtt go to the broker's own hook). */
  refused?: (reason: string, kind: RefusalKind) => void;
}

/** The files the build writes (scripts/build-web.ts); nothing else is served. */
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/** The page loads only its own files and talks only to its own origin and the configured broker. */
function securityHeaders(mqtt: string | null): Record<string, string> {
  const connect = ["'self'", ...(mqtt !== null && /^wss?:/.test(mqtt) ? [new URL(mqtt).origin] : [])];
  return {
    'content-security-policy': `default-src 'self'; connect-src ${connect.join(' ')}; img-src 'self' blob: data:; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
  };
}

export class WebServer {
  readonly #server: Server;
  readonly #options: WebServerOptions;
  readonly #assets: string;
  readonly #guard: OriginGuard;
  #closeWebSocket: (() => void) | undefined;

  private constructor(options: WebServerOptions) {
    this.#options = options;
    this.#assets = options.assets ?? webAssetsDir();
    this.#guard = new OriginGuard(options.host, () => this.address.port, options.allowedOrigins ?? []);
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`internal error: ${(error as Error).message}\n`);
      });
    });
  }

  static async start(options: WebServerOptions): Promise<WebServer> {
    const server = new WebServer(options);
    if (options.broker !== undefined) server.#closeWebSocket = options.broker.serveWebSocket(server.#server, MQTT_PATH, server.#guard);
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', (error: NodeJS.ErrnoException) => {
        reject(new Error(`cannot listen for the web view on ${options.host}:${options.port}: ${error.code ?? error.message}`));
      });
      server.#server.listen(options.port, options.host, resolve);
    });
    return server;
  }

  get address(): { host: string; port: number } {
    const { address, port } = this.#server.address() as AddressInfo;
    return { host: address, port };
  }

  /** The page's URL, as the log and bridge/info give it. */
  get url(): string {
    const { host, port } = this.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const headers = securityHeaders(this.#options.page.mqtt);
    const refusal = this.#guard.check(request);
    if (refusal !== undefined) {
      this.#options.refused?.(`web view: ${refusal.reason}`, refusal.kind);
      response.writeHead(403, { 'content-type': 'text/plain', connection: 'close' }).end(`${refusal.kind} not allowed\n`);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/config.json') {
      response.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(this.#options.page));
      return;
    }
    const entry = Object.hasOwn(FILES, path) ? FILES[path] : undefined;
    if (entry === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    let body: Buffer;
    try {
      body = await readFile(join(this.#assets, entry.file));
    } catch {
      response
        .writeHead(500, { 'content-type': 'text/plain' })
        .end(`the web view is not built (${entry.file} missing in ${this.#assets}): run npm run build\n`);
      return;
    }
    response.writeHead(200, { ...headers, 'content-type': entry.type }).end(request.method === 'HEAD' ? undefined : body);
  }

  async close(): Promise<void> {
    this.#closeWebSocket?.();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }
}
