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
