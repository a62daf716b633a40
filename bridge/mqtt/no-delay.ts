/**
 * Turns Nagle's algorithm off on an mqtt.js client's socket (TCP or TLS;
 * a WebSocket or unix stream has no such option and is left alone). mqtt.js
 * leaves it on, so a client that has just sent a small packet (a PUBACK,
 * a QoS 0 state) holds its next one until the peer's delayed ACK, about
 * 40 ms. The bridge and the benchmark's own clients use it.
 */
import type { Socket } from 'node:net';
import type { MqttClient } from 'mqtt';

export function noDelay(client: MqttClient): MqttClient {
  (client.stream as Partial<Pick<Socket, 'setNoDelay'>> | undefined)?.setNoDelay?.(true);
  return client;
}
