/**
 * mqtt-packet, the packet writer under both Aedes and mqtt.js, builds at
 * the first packet it writes a cache of 65,536 two-byte Buffers, one per
 * 16-bit number (packet ids, topic and string lengths), so that writing a
 * number allocates nothing. Those 65,536 objects hold about 6 MiB of heap
 * for the life of the process and, measured with bench/footprint.ts, add
 * about 11 MiB to an idle bridge's resident memory (1 chip of 32 lines:
 * 84 MiB with the cache, 73 MiB without). Without it each number written
 * takes two bytes from Node's Buffer pool instead. `cacheNumbers` is the
 * package's documented switch; it holds for every writer in the process.
 */
import mqttPacket from 'mqtt-packet';

/** Call before the first packet is written (the cache is built then, not at import). */
export function skipNumberCache(): void {
  mqttPacket.writeToStream.cacheNumbers = false;
}
