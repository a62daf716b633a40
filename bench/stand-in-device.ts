/**
 * The stand-in bridge of the end-to-end figure: a separate process that
 * owns a third vgpio device of the benchmark's guest (its region and its
 * ivshmem server, like the raw baseline's) and, for each message on TOPIC
 * received through the bridge's embedded broker (mqtt.js, QoS 1, Nagle off,
 * as the bridge's own clients), drives the device's line 0 to the payload's
 * level (`ON`/`OFF`) with the raw baseline's code: write `in`, raise the
 * line, ring the guest. No topic parsing, line policy, availability
 * tracking or publications. Timed against the raw path, it is what the MQTT
 * hop into another process costs in that guest; against the bridge, what
 * the bridge's own work does.
 *
 *   node --import tsx bench/stand-in-device.ts URL SOCKET TOPIC
 *
 * Prints `ready` once the server listens and the subscription is granted;
 * exits on SIGTERM.
 */
import mqtt from 'mqtt';
import { IvshmemServer, protocol } from '../native/index.ts';
import { noDelay } from '../bridge/mqtt/no-delay.ts';
import { HostRegion } from '../test/kernel/vgpio-host.ts';

const [url, socket, topic] = process.argv.slice(2);
if (url === undefined || socket === undefined || topic === undefined) throw new Error('usage: stand-in-device.ts URL SOCKET TOPIC');

// The device rings the guest through its server, which needs the device's file first.
const ringer: { server?: IvshmemServer } = {};
const device = new HostRegion({ ngpio: 32, label: 'stand-in', names: ['stand-in-button'], doorbell: true, hostPeer: protocol.PEER_NONE }, () => {
  ringer.server?.ring(device.region.guestPeer, protocol.VECTOR_GUEST);
});
const server = await IvshmemServer.listen({ socketPath: socket, shmPath: device.path, shmSize: device.mem.size, vectors: 1 });
// The guest reads host_peer when its driver probes, after this.
ringer.server = server;
device.mem.store32(protocol.HDR_HOST_PEER, server.id);
server.on('ring', () => {
  device.service();
});

const client = noDelay(await mqtt.connectAsync(url, { reconnectPeriod: 0 }));
client.on('message', (_topic, payload) => {
  device.inputs.set(0, payload.toString() === 'ON' ? 1 : 0);
});
await client.subscribeAsync(topic, { qos: 1 });
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void client.endAsync().then(async () => {
    await server.close();
    device.close();
    process.exit(0);
  });
});
