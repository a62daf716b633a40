/**
 * The embedded broker writes packets without mqtt-packet's cache of 65,536
 * pre-built number Buffers (about 11 MiB of an idle bridge's resident
 * memory): real mosquitto clients exchange QoS 1 messages through it, which
 * writes packet ids and topic lengths, and the cache stays empty. A file of
 * its own: the cache belongs to the process.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { EmbeddedBroker } from '../../broker/embedded.ts';

const run = promisify(execFile);
/** mqtt-packet's number cache, filled the first time a packet is written while caching is on. */
const numberCache = createRequire(import.meta.url)('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> };

it('carries QoS 1 messages without building the number cache', async () => {
  const broker = await EmbeddedBroker.start({ tcp: { host: '127.0.0.1', port: 0 }, ws: null, tls: null, users: [], persistenceDir: null });
  try {
    const port = String(broker.addresses.tcp?.port);
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-t', 'a/b', '-m', 'kept', '-r', '-q', '1']);
    const { stdout } = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-t', 'a/#', '-q', '1', '-C', '1', '-W', '5', '-v']);
    assert.equal(stdout.trim(), 'a/b kept');
    assert.equal(Object.keys(numberCache.cache).length, 0);
  } finally {
    await broker.close();
  }
});
