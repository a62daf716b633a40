/**
 * The page's MQTT client (mqtt.js over WebSocket). It connects without a
 * login first; when the broker refuses it (CONNACK "bad username or
 * password" / "not authorized", as the embedded broker does when
 * broker.users is set) it asks for one and stops retrying until given it.
 */
import mqtt, { type MqttClient } from 'mqtt';

export interface Login {
  username: string;
  password: string;
}

export interface ConnectionEvents {
  status(text: string, ok: boolean): void;
  /** The broker refused the login (or its absence): show the form. */
  loginNeeded(message: string): void;
  connected(client: MqttClient): void;
  message(topic: string, payload: string): void;
}

/** CONNACK codes meaning "who are you": MQTT 3.1.1's 4 and 5, MQTT 5's 134 and 135. */
const REFUSED_LOGIN = new Set([4, 5, 134, 135]);

/** ws(s):// URL for `/mqtt` on this page's origin, or the configured external URL as is. */
export function brokerUrl(mqttSetting: string, location: { protocol: string; host: string }): string {
  if (/^wss?:\/\//.test(mqttSetting)) return mqttSetting;
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${mqttSetting}`;
}

export function connect(url: string, login: Login | undefined, events: ConnectionEvents): MqttClient {
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 2000,
    connectTimeout: 10_000,
    ...(login === undefined ? {} : { username: login.username, password: login.password }),
  });
  events.status(`connecting to ${url}`, false);
  client.on('connect', () => {
    events.status(`connected to ${url}${login === undefined ? '' : ` as ${login.username}`}`, true);
    events.connected(client);
  });
  client.on('message', (topic, payload) => {
    events.message(topic, new TextDecoder().decode(payload));
  });
  client.on('error', (error) => {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'number' && REFUSED_LOGIN.has(code)) {
      client.end(true);
      events.loginNeeded(login === undefined ? 'this broker wants a login' : `login refused: ${error.message}`);
      return;
    }
    events.status(`MQTT error: ${error.message}`, false);
  });
  client.on('offline', () => {
    events.status(`disconnected from ${url}; retrying`, false);
  });
  return client;
}
