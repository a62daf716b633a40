/**
 * The benchmark's own MQTT clients turn Nagle's algorithm off. mqtt.js
 * leaves it on, so a client that has just sent a PUBACK (for an edge it
 * received) holds its next publish until the broker's delayed ACK, about
 * 40 ms: that would be the benchmark measuring itself, not the bridge.
 */
import type { Socket } from 'node:net';
import type { MqttClient } from 'mqtt';

export function noDelay(client: MqttClient): MqttClient {
  (client.stream as Partial<Pick<Socket, 'setNoDelay'>>).setNoDelay?.(true);
  return client;
}
