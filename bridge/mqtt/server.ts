/**
 * Helpers about an external broker that do not need an MQTT client, so the
 * bridge loads mqtt.js only when it talks to an external broker (it costs
 * about 19 MiB of resident memory).
 */
import { readFileSync } from 'node:fs';

export function readTls(path: string | null | undefined, what: string): Buffer | undefined {
  if (path === null || path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`cannot read MQTT TLS ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

/** The server as a log-safe string (no password). */
export function describeServer(server: string): string {
  return server.replace(/\/\/[^@/]*@/, '//');
}

/**
 * The brokers `mqtt.server` names, in its order: a YAML list, or one string
 * of URLs separated by commas (the form flags and environment variables
 * take). One URL is a list of one.
 */
export function serverList(server: string | readonly string[]): string[] {
  const entries = typeof server === 'string' ? server.split(',') : server;
  return entries.map((entry) => entry.trim()).filter((entry) => entry !== '');
}

/** The servers as one log-safe string. */
export function describeServers(server: string | readonly string[]): string {
  return serverList(server).map(describeServer).join(', ');
}

/** Where a list of brokers may point: each a TCP or TLS broker, whose host and port alone tell mqtt.js where to go. */
export const LIST_ENTRY = /^mqtts?:\/\/[^/\s,]+\/?$/;

/**
 * The brokers of a list in the order connections go round them:
 * `ordered` from the first, `random` from a random one (spreading bridges
 * and their guests' agents over a cluster's nodes), then round the list.
 */
export function ringOrder(servers: string[], order: 'ordered' | 'random', random: () => number = Math.random): string[] {
  if (order === 'ordered' || servers.length < 2) return servers;
  const start = Math.floor(random() * servers.length);
  return [...servers.slice(start), ...servers.slice(0, start)];
}
