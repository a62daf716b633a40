/**
 * The bridge's HTTP endpoint: `/metrics` (Prometheus text, or OpenMetrics
 * when the scraper asks for it in Accept) and `/health` (JSON; 503 when
 * the bridge is not healthy, so a plain HTTP check can alert on it).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BridgeMetrics } from './metrics.ts';

/** What /health serves: any JSON report with a `healthy` flag (see bridge/metrics/health.ts). */
export interface HealthStatus {
  healthy: boolean;
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  metrics: BridgeMetrics;
  health: () => HealthStatus;
}

function wantsOpenMetrics(request: IncomingMessage): boolean {
  return (request.headers.accept ?? '').includes('application/openmetrics-text');
}

export class MetricsServer {
  readonly #server: Server;
  readonly #options: MetricsServerOptions;

  private constructor(options: MetricsServerOptions) {
    this.#options = options;
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`internal error: ${String(error)}\n`);
      });
    });
  }

  static async start(options: MetricsServerOptions): Promise<MetricsServer> {
    const server = new MetricsServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', (error: NodeJS.ErrnoException) => {
        reject(new Error(`cannot listen for metrics on ${options.host}:${options.port}: ${error.code ?? error.message}`));
      });
      server.#server.listen(options.port, options.host, resolve);
    });
    return server;
  }

  get address(): { host: string; port: number } {
    const { address, port } = this.#server.address() as AddressInfo;
    return { host: address, port };
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/metrics') {
      const registry = wantsOpenMetrics(request) ? this.#options.metrics.openMetrics : this.#options.metrics.prometheus;
      const body = await registry.metrics();
      response.writeHead(200, { 'content-type': registry.contentType }).end(body);
      return;
    }
    if (path === '/health') {
      const report = this.#options.health();
      response
        .writeHead(report.healthy ? 200 : 503, { 'content-type': 'application/json' })
        .end(`${JSON.stringify(report)}\n`);
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /health\n');
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }
}
