/**
 * The stand-in bridge of the end-to-end figure: a separate process with an
 * embedded Aedes broker on a TCP port of its own (as the bridge's embedded
 * broker) that owns a third vgpio device of the benchmark's guest (its
 * region and its ivshmem server, like the raw baseline's). For each message
 * published on TOPIC it drives the device's line 0 to the payload's level
 * (`ON`/`OFF`) with the raw baseline's code: write `in`, raise the line,
 * ring the guest. It subscribes through Aedes' own API, as the bridge does;
 * no topic parsing, line policy, availability tracking, persistence or
 * publications. Timed against the raw path, it is what an MQTT hop into
 * another process costs in that guest; against the bridge, what the
 * bridge's own work adds.
 *
 *   node --import tsx bench/stand-in-device.ts PORT SOCKET TOPIC
 *
 * Prints `ready` once the broker listens on 127.0.0.1:PORT and the server on
 * SOCKET; exits on SIGTERM.
 */
import { Aedes } from 'aedes';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { IvshmemServer, protocol } from '../native/index.ts';
import { HostRegion } from '../testkit/vgpio-host.ts';

const [port, socket, topic] = process.argv.slice(2);
if (port === undefined || socket === undefined || topic === undefined) throw new Error('usage: stand-in-device.ts PORT SOCKET TOPIC');
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

const broker = await Aedes.createBroker();
await new Promise<void>((resolve) => {
  broker.subscribe(topic, (packet, done) => {
    device.inputs.set(0, packet.payload.toString() === 'ON' ? 1 : 0);
    done();
  }, resolve);
});
// Nagle off on accepted sockets, as the bridge's embedded broker has it.
const listener = createServer({ noDelay: true }, (stream) => {
  broker.handle(stream);
});
listener.listen(Number(port), '127.0.0.1');
await once(listener, 'listening');
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  listener.close();
  broker.close(() => {
    void server.close().then(() => {
      device.close();
      process.exit(0);
    });
  });
});
