/**
 * Raw MQTT clients for tests that must misbehave in ways a real client
 * library will not: stop reading, speak MQTT 5 to a 3.1.1 broker, publish
 * to a topic MQTT forbids. Packets are built by mqtt-packet (the encoder
 * under Aedes and mqtt.js); only the socket handling is here.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

export const packets = {
  connect: (clientId: string, protocolVersion: 4 | 5 = 4): Buffer =>
    mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, keepalive: 60, clientId }, { protocolVersion }),
  subscribe: (filter: string): Buffer => mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] }),
  publish: (topic: string, payload: string | Buffer): Buffer => mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false }),
};

/** A TCP connection to `port` whose received bytes are kept, and whether it closed. */
export class RawClient {
  readonly socket: Socket;
  received = Buffer.alloc(0);
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = connectTcp(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  /** Waits until `bytes` bytes have arrived, or throws after `timeoutMs`. */
  async receive(bytes: number, timeoutMs = 10_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < bytes) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${bytes} bytes (got ${this.received.length})`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.received;
  }

  /** Waits until the peer closes the connection; false if it did not within `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    return this.closed;
  }
}
