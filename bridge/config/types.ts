/** The checked, typed configuration the rest of the bridge uses. */
import type { LogLevel } from '../log.ts';
import type { BrokerLimits, BrokerUser } from '../../broker/embedded.ts';

export type ChipMode = 'server' | 'client' | 'plain';
/** What the host expects of a line: `input` = the host drives it, `output` = the guest drives it. */
export type LineDirection = 'input' | 'output';

export interface LineConfig {
  line: number;
  /** Topic level: the configured name, else the line number. */
  name: string;
  /** Whether the configuration mentions this line (only those get Home Assistant entities). */
  configured: boolean;
  direction: LineDirection;
  payloadOn: string;
  payloadOff: string;
  /** ON means electrical low. */
  inverted: boolean;
  retain: boolean;
  /** Every ON/OFF command becomes a pulse of this length (a momentary button); null: commands latch. */
  pulseMs: number | null;
  /** State of a guest-driven line is published only after it has been stable this long. */
  debounceMs: number;
}

export interface ChipConfig {
  name: string;
  mode: ChipMode;
  /** The bridge's own runtime folder (config/runtime-dir.ts): created 0700 when a socket of this chip is in it. */
  runtimeDir: string;
  /** server: the socket the bridge listens on; client: the external server's socket; plain: null. */
  socket: string | null;
  /** Permissions of the bridge's sockets for this chip (ivshmem server and agent socket). */
  socketMode: number;
  /** Unix socket where the bridge accepts the guest agent's virtio-serial connection; null: none. */
  agentSocket: string | null;
  /** server and plain: the shared-memory file; client: null (the server hands it over). */
  shm: string | null;
  size: number;
  vectors: number;
  ngpio: number;
  label: string;
  ringLen: number;
  queueLimit: number;
  /** Host poll period: the only way to see the guest in plain mode, a safety net with doorbells. */
  pollMs: number;
  /** One entry per line, 0..ngpio-1. */
  lines: LineConfig[];
}

export interface BrokerSettings {
  host: string;
  port: number | null;
  wsPort: number | null;
  tlsPort: number | null;
  tlsCert: string | null;
  tlsKey: string | null;
  tlsCa: string | null;
  persistenceDir: string | null;
  limits: BrokerLimits;
  users: BrokerUser[];
}

export interface MqttSettings {
  server: string;
  clientId: string;
  username: string;
  password: string;
  keepalive: number;
  /** QoS of the bridge's own publications to an external broker. */
  qos: 0 | 1;
  reconnectMs: number;
  ca: string | null;
  cert: string | null;
  key: string | null;
  rejectUnauthorized: boolean;
}

export interface HomeAssistantSettings {
  enabled: boolean;
  discoveryPrefix: string;
  statusTopic: string;
  /** The origin's support_url in discovery; null: none. */
  supportUrl: string | null;
}

export interface MetricsSettings {
  host: string;
  /** null: no metrics endpoint. */
  port: number | null;
}

export interface WebSettings {
  enabled: boolean;
  host: string;
  port: number;
  /** With an external broker: the WebSocket URL the page uses; null: no live view. */
  mqttUrl: string | null;
  /** Origins besides the listeners' own whose pages may use the web view's and the broker's WebSocket. */
  allowedOrigins: string[];
}

export interface Settings {
  baseTopic: string;
  logLevel: LogLevel;
  mqtt: MqttSettings;
  broker: BrokerSettings;
  homeassistant: HomeAssistantSettings;
  metrics: MetricsSettings;
  web: WebSettings;
  chips: ChipConfig[];
  /** The configuration file read, if any. */
  file: string | null;
}
