/**
 * The stand-in bridge: the least a separate bridge process has to do for a
 * command, and nothing more. It subscribes to `.../set` as the bridge does
 * (mqtt.js, QoS 1, Nagle off) and, for each message, rings the guest's
 * doorbell through the addon as another peer of the chip's ivshmem server:
 * no parsing, no line policy, no shared-memory bookkeeping, no state or
 * edge published back. The benchmark compares the bridge with it as well as
 * with a bare MQTT hop: like the bridge, and unlike the bare hop, every
 * command crosses from the broker into another process.
 *
 *   node --import tsx bench/stand-in.ts URL SOCKET FILTER
 *
 * Prints `ready` once subscribed; exits on SIGTERM.
 */
import mqtt from 'mqtt';
import { IvshmemClient, protocol } from '../native/index.ts';
import { noDelay } from '../bridge/mqtt/no-delay.ts';

const [url, socket, filter] = process.argv.slice(2);
if (url === undefined || socket === undefined || filter === undefined) throw new Error('usage: stand-in.ts URL SOCKET FILTER');

const peer = await IvshmemClient.connect(socket);
const client = noDelay(await mqtt.connectAsync(url, { reconnectPeriod: 0 }));
client.on('message', () => {
  peer.ring(peer.shm.load32(protocol.HDR_GUEST_PEER), protocol.VECTOR_GUEST);
});
await client.subscribeAsync(filter, { qos: 1 });
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void client.endAsync().then(() => peer.close()).then(() => process.exit(0));
});
