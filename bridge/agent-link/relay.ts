/**
 * Relays a guest agent's connection to the external broker: the agent's
 * MQTT byte stream is copied both ways unchanged over a fresh connection
 * per agent (mqtt://, mqtts:// or unix://), so the broker sees the agent
 * as its own client with its own login and will. WebSocket brokers would
 * need MQTT framed into WebSocket messages; config/load.ts refuses an
 * agent socket with a ws:// or wss:// server instead.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import type { MqttSettings } from '../settings/types.ts';
import type { Logger } from '../log.ts';
import { describeServer, readTls, ringOrder, serverList } from '../mqtt/server.ts';

/** Whether agent connections can be relayed to `server` (an external broker URL, or every broker of a list). */
export function relayable(server: string | readonly string[]): boolean {
  return serverList(server).every((entry) => /^(mqtts?|unix):\/\//.test(entry));
}

/**
 * Opens a new connection to the external broker; reads TLS files once, so a
 * missing one fails at start. With a list of brokers (a cluster's nodes),
 * each agent connection goes to the broker the last one reached, and moves
 * on to the next when that broker cannot be reached: QEMU reconnects and
 * the agent's retry lands on the next node. The first broker is where
 * `mqtt.server_order` says, as for the bridge's own connection.
 */
export function upstreamConnector(mqtt: MqttSettings, random: () => number = Math.random): () => Socket {
  const servers = ringOrder(serverList(mqtt.server), mqtt.serverOrder, random);
  const bad = servers.find((server) => !relayable(server));
  if (bad !== undefined) throw new Error(`cannot relay agent connections to ${describeServer(bad)}: only mqtt://, mqtts:// and unix:// brokers`);
  const connectors = servers.map((server) => connectorOf(server, mqtt));
  let next = 0;
  return () => {
    const index = next;
    const connector = connectors[index];
    // mqtt.server is never an empty list (config/formats.ts).
    if (connector === undefined) throw new Error('no broker to relay agent connections to');
    const socket = connector();
    socket.once('error', () => {
      if (next === index) next = (index + 1) % connectors.length;
    });
    return socket;
  };
}

function connectorOf(server: string, mqtt: MqttSettings): () => Socket {
  if (server.startsWith('unix://')) {
    const path = server.slice('unix://'.length);
    return () => netConnect(path);
  }
  const url = new URL(server);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const tls = url.protocol === 'mqtts:';
  const port = url.port === '' ? (tls ? 8883 : 1883) : Number(url.port);
  if (!tls) return () => netConnect({ host, port, noDelay: true });
  const ca = readTls(mqtt.ca, 'CA');
  const cert = readTls(mqtt.cert, 'certificate');
  const key = readTls(mqtt.key, 'key');
  // Loaded only for an mqtts:// broker: node:tls costs an idle bridge ~1 MiB of RSS.
  const { connect: tlsConnect } = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
  return () =>
    tlsConnect({
      host,
      port,
      ...(isIP(host) === 0 ? { servername: host } : {}),
      rejectUnauthorized: mqtt.rejectUnauthorized,
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
    });
}

/**
 * Copies `agent` <-> a new upstream connection until either side goes
 * away, then closes the other (an agent that vanished without DISCONNECT
 * makes the broker publish its will). A broker that cannot be reached
 * drops the agent's connection; QEMU reconnects and the agent retries.
 */
export function relay(agent: Socket, connect: () => Socket, where: string, log: Logger): void {
  const upstream = connect();
  upstream.setNoDelay(true);
  agent.setNoDelay(true);
  upstream.on('error', (error: NodeJS.ErrnoException) => {
    log.warn(`agent connection: broker ${where}: ${error.code ?? error.message}; dropping the agent's connection`);
  });
  upstream.once('close', () => {
    agent.destroy();
  });
  agent.once('close', () => {
    upstream.end();
  });
  agent.pipe(upstream);
  upstream.pipe(agent);
}
