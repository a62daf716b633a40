/**
 * `vgpio2mqtt get|set|watch`: talk to a running bridge over MQTT, the
 * successor of the 2021 vg_get_set tool. get and set go through the
 * bridge's request topics, so the answer (or the refusal) comes from the
 * bridge that read shared memory; watch prints line states and edges as
 * they are published.
 */
import { randomUUID } from 'node:crypto';
import type { Settings } from '../settings/types.ts';
import { Logger } from '../log.ts';
import { MqttConnection } from '../mqtt/connection.ts';
import { nameProblem, Topics } from '../mqtt/topics.ts';
import { serverList } from '../mqtt/server.ts';
import { bridgeOnline } from '../capture/layout.ts';

export const REMOTE_TIMEOUT_MS = 5000;

export class RemoteError extends Error {
  override readonly name = 'RemoteError';
}

/** The broker (or a cluster's nodes, tried in turn) a CLI client should reach for these settings. */
export function remoteServer(settings: Settings): string | string[] {
  if (settings.mqtt.server !== 'embedded') return settings.mqtt.server;
  const { host, port } = settings.broker;
  if (port === null || port === 0) throw new RemoteError('the embedded broker has no fixed TCP port (broker.port); set one, or point mqtt.server at the broker');
  return `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function checkName(what: string, name: string): void {
  const problem = nameProblem(name);
  if (problem !== undefined) throw new RemoteError(`${what} ${JSON.stringify(name)} ${problem}`);
}

/** A CLI client of the broker these settings name (get, set, watch, capture). */
export function connect(settings: Settings, log: Logger): MqttConnection {
  return new MqttConnection({
    server: remoteServer(settings),
    serverOrder: settings.mqtt.serverOrder,
    clientId: `vgpio2mqtt-cli-${randomUUID().slice(0, 8)}`,
    clean: true,
    username: settings.mqtt.username,
    password: settings.mqtt.password,
    keepalive: settings.mqtt.keepalive,
    // The nodes of a cluster are tried in turn: the first that answers serves the command, well within REMOTE_TIMEOUT_MS.
    reconnectMs: serverList(remoteServer(settings)).length > 1 ? 100 : 1000,
    ca: settings.mqtt.ca,
    cert: settings.mqtt.cert,
    key: settings.mqtt.key,
    rejectUnauthorized: settings.mqtt.rejectUnauthorized,
    log,
  });
}

/** CONNACK codes of a refused login (3.1.1: 4 and 5; MQTT 5: 134 and 135): retrying cannot help. */
const LOGIN_REFUSED = new Set([4, 5, 134, 135]);

/**
 * Resolves once connected. A refused login fails at once, with a hint,
 * instead of being retried until the timeout.
 */
export async function connected(mqtt: MqttConnection, settings: Settings): Promise<void> {
  let onError: ((error: Error & { code?: unknown }) => void) | undefined;
  const refused = new Promise<never>((_, reject) => {
    onError = (error) => {
      if (typeof error.code !== 'number' || !LOGIN_REFUSED.has(error.code)) return;
      const who = settings.mqtt.username === '' ? 'no user name was given' : `user ${JSON.stringify(settings.mqtt.username)}`;
      const where = settings.mqtt.server === 'embedded' ? 'one of the embedded broker\'s broker.users' : 'a login the broker knows';
      reject(new RemoteError(`the MQTT broker refused the login (${error.message}; ${who}): pass --mqtt-username and --mqtt-password (or VGPIO2MQTT_MQTT_USERNAME and VGPIO2MQTT_MQTT_PASSWORD) with ${where}`));
    };
    mqtt.client.on('error', onError);
  });
  try {
    await Promise.race([mqtt.waitConnected(REMOTE_TIMEOUT_MS), refused]);
  } finally {
    if (onError !== undefined) mqtt.client.off('error', onError);
  }
}

/** Sends one bridge request and resolves with its `data`; rejects with the bridge's error. */
export async function request(settings: Settings, command: string, body: Record<string, unknown>, log = new Logger('error', 'cli')): Promise<unknown> {
  const topics = new Topics(settings.baseTopic);
  const mqtt = connect(settings, log);
  try {
    await connected(mqtt, settings);
    const transaction = randomUUID();
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new RemoteError(`no answer from a bridge on ${topics.response(command)} within ${REMOTE_TIMEOUT_MS} ms (is vgpio2mqtt running with base topic ${topics.base}?)`));
      }, REMOTE_TIMEOUT_MS);
      void mqtt
        .subscribeNow(topics.response(command), (_topic, payload) => {
          let response: Record<string, unknown>;
          try {
            response = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
          } catch {
            return;
          }
          if (response.transaction !== transaction) return;
          clearTimeout(timer);
          resolve(response);
        })
        .then(() => mqtt.publish(topics.request(command), JSON.stringify({ ...body, transaction }), { qos: 1 }))
        .catch((error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        });
    });
    const response = await answer;
    if (response.status !== 'ok') throw new RemoteError(typeof response.error === 'string' ? response.error : 'the bridge refused the request');
    return response.data;
  } finally {
    await mqtt.close();
  }
}

/**
 * The running bridge's retained `bridge/info` (its chips, lines and what
 * attaches a guest: known-chips.ts), once its retained `bridge/state` says
 * online. No broker, no state or an offline bridge is a RemoteError saying so.
 */
export async function bridgeInfo(settings: Settings, log = new Logger('error', 'cli')): Promise<string> {
  const topics = new Topics(settings.baseTopic);
  const hint = 'no configuration file was given (-c or VGPIO2MQTT_CONFIG), so chips come from the running bridge';
  const mqtt = connect(settings, log);
  try {
    try {
      await connected(mqtt, settings);
    } catch (error) {
      throw new RemoteError(`${(error as Error).message}: is vgpio2mqtt running? (${hint})`);
    }
    const retained = (topic: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new RemoteError(`nothing retained on ${topic} within ${REMOTE_TIMEOUT_MS} ms: is vgpio2mqtt running with base topic ${topics.base}? (${hint})`));
        }, REMOTE_TIMEOUT_MS);
        mqtt.subscribeNow(topic, (_topic, payload) => {
          clearTimeout(timer);
          resolve(payload.toString('utf8'));
        }).catch((error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        });
      });
    const [state, info] = await Promise.all([retained(topics.bridgeState), retained(topics.bridgeInfo)]);
    if (!bridgeOnline(Buffer.from(state))) throw new RemoteError(`the bridge is not running (${topics.bridgeState}: ${state}): start vgpio2mqtt, or give its configuration with -c (${hint})`);
    return info;
  } finally {
    await mqtt.close();
  }
}

/** Prints `<topic> <payload>` for every state, edge, guest confirmation (`received`) and line configuration message of the chosen chips and lines until `signal` aborts. */
export async function watch(settings: Settings, chip: string | undefined, line: string | undefined, print: (text: string) => void, signal: AbortSignal, log = new Logger('error', 'cli')): Promise<void> {
  if (chip !== undefined) checkName('chip', chip);
  if (line !== undefined) checkName('line', line);
  const topics = new Topics(settings.baseTopic);
  const mqtt = connect(settings, log);
  try {
    await connected(mqtt, settings);
    const handler = (topic: string, payload: Buffer): void => {
      print(`${topic} ${payload.toString('utf8')}`);
    };
    // Edges, confirmations and config first, the states last: a state's retained
    // message then means everything is subscribed, and nothing after it is missed.
    await mqtt.subscribeNow(topics.lineFilter('edge', chip, line), handler);
    await mqtt.subscribeNow(topics.lineFilter('received', chip, line), handler);
    if (line === undefined) await mqtt.subscribeNow(topics.lineFilter('config', chip), handler);
    await mqtt.subscribeNow(topics.lineFilter('state', chip, line), handler);
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => {
        resolve();
      });
    });
  } finally {
    await mqtt.close();
  }
}
