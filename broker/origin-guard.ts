/**
 * Who may reach an HTTP listener that carries MQTT over WebSocket from a
 * browser. A browser lets any site open a WebSocket to 127.0.0.1 and
 * sends that site's origin in the `Origin` header (cross-site WebSocket
 * hijacking), and a site whose DNS name is rebound to 127.0.0.1 reaches
 * the listener under its own name (DNS rebinding: then `Host` carries the
 * foreign name). So:
 *
 * - `Origin`, when present, must be the listener's own origin
 *   (http://NAME:PORT for each NAME the listener answers to) or one of the
 *   allowed origins (web.allowed_origins). Browsers always send it on a
 *   WebSocket; non-browser clients (mqtt.js in Node, the mosquitto tools)
 *   send none and are let through: a page cannot leave it out.
 * - `Host` must be one of those names with the listener's port, or the
 *   host of an allowed origin (a reverse proxy that keeps the Host).
 *
 * The names: the configured host; for a loopback bind also 127.0.0.1,
 * localhost and [::1]; for a wildcard bind (0.0.0.0, ::) those, the
 * machine's host name and every address of its interfaces. Other names
 * (a DNS name of the machine, a proxy) go in the allow-list.
 */
import type { IncomingMessage } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';

export interface OriginRefusal {
  kind: 'origin' | 'host';
  reason: string;
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function isWildcard(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::';
}

/** An address as it appears in a URL's host: IPv6 in brackets. */
function urlName(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The names a listener bound to `host` answers to, as URL hosts without port. */
export function listenerNames(host: string): string[] {
  const names = new Set<string>();
  if (!isWildcard(host)) names.add(urlName(host.toLowerCase()));
  if (isLoopback(host) || isWildcard(host)) for (const name of LOOPBACK_NAMES) names.add(name);
  if (isWildcard(host)) {
    names.add(hostname().toLowerCase());
    for (const addresses of Object.values(networkInterfaces())) {
      for (const { address } of addresses ?? []) names.add(urlName(address.toLowerCase()));
    }
  }
  return [...names];
}

/** `http://x:80` and `http://X` alike, as URL.origin writes them; undefined when not a URL. */
function normalOrigin(origin: string): string | undefined {
  return URL.canParse(origin) ? new URL(origin).origin : undefined;
}

/** True when `origin` is exactly an http(s) origin: scheme, host and optional port, nothing else. */
export function isOrigin(origin: string): boolean {
  return /^https?:\/\/[^/?#\s]+$/.test(origin) && normalOrigin(origin) !== undefined && normalOrigin(origin) !== 'null';
}

export class OriginGuard {
  readonly #host: string;
  readonly #port: () => number;
  readonly #allowed: readonly string[];
  readonly #settingName: string;
  #rules: { origins: Set<string>; hosts: Set<string> } | undefined;

  /**
   * `port`: the listener's port, read at the first request (a listener on
   * port 0 knows it only once listening). `settingName`: the option that
   * holds `allowed`, named in refusals.
   */
  constructor(host: string, port: () => number, allowed: readonly string[], settingName = 'web.allowed_origins') {
    this.#host = host;
    this.#port = port;
    this.#allowed = allowed;
    this.#settingName = settingName;
  }

  #compute(): { origins: Set<string>; hosts: Set<string> } {
    const port = this.#port();
    const origins = new Set<string>();
    const hosts = new Set<string>();
    for (const name of listenerNames(this.#host)) {
      const url = new URL(`http://${name}:${port}`);
      origins.add(url.origin);
      hosts.add(url.host);
    }
    for (const allowed of this.#allowed) {
      const url = new URL(allowed);
      origins.add(url.origin);
      hosts.add(url.host);
    }
    return { origins, hosts };
  }

  /** Why `request` must be refused, or undefined when it may proceed. */
  check(request: IncomingMessage): OriginRefusal | undefined {
    this.#rules ??= this.#compute();
    const { origins, hosts } = this.#rules;
    const host = request.headers.host;
    const from = request.socket.remoteAddress ?? 'unknown address';
    const normalHost = host !== undefined && URL.canParse(`http://${host}`) ? new URL(`http://${host}`).host : undefined;
    if (normalHost === undefined || !hosts.has(normalHost)) {
      return { kind: 'host', reason: `request from ${from} for Host ${JSON.stringify(host ?? null)} refused: not a name of this listener nor the host of an origin in ${this.#settingName}` };
    }
    const origin = request.headers.origin;
    if (origin === undefined) return undefined;
    const normal = normalOrigin(origin);
    if (normal !== undefined && origins.has(normal)) return undefined;
    return { kind: 'origin', reason: `request from ${from} with Origin ${JSON.stringify(origin)} refused: not this listener's own origin nor in ${this.#settingName}` };
  }
}

/** Answers an upgrade request that must not become a WebSocket: 403, then closes the socket. */
export function refuseUpgrade(socket: NodeJS.WritableStream & { destroy(): void }, refusal: OriginRefusal): void {
  const body = `${refusal.kind === 'origin' ? 'origin' : 'host'} not allowed\n`;
  socket.end(`HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`, () => {
    socket.destroy();
  });
}
