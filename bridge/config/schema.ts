/**
 * The bridge's options: one convict schema, so defaults, documentation
 * (`vgpio2mqtt --help`), environment variables and command-line flags all
 * come from the same table. Every leaf gets `VGPIO2MQTT_<PATH>` as its
 * environment variable and `--<path>` as its flag, with `.` and `_` turned
 * into `_` and `-` respectively (mqtt.client_id: VGPIO2MQTT_MQTT_CLIENT_ID,
 * --mqtt-client-id). Chips and broker users are lists of objects, set in
 * the configuration file only and checked by config/chips.ts and
 * config/users.ts.
 */

import { DEFAULT_BROKER_LIMITS } from '../../broker/embedded.ts';

export interface OptionSpec {
  doc: string;
  format: string;
  default: unknown;
  sensitive?: boolean;
  nullable?: boolean;
  env?: string;
  arg?: string;
}

export interface SchemaTree {
  [key: string]: OptionSpec | SchemaTree;
}

export const ENV_PREFIX = 'VGPIO2MQTT_';

const tree: SchemaTree = {
  base_topic: { doc: 'Topic prefix of everything the bridge publishes and listens to.', format: 'topic-path', default: 'vgpio2mqtt' },
  log_level: { doc: 'Least important log level printed: error, warn, info or debug.', format: 'log-level', default: 'info' },
  mqtt: {
    server: {
      doc: '"embedded" runs the built-in broker (see broker.*); else the external broker to use: mqtt://, mqtts://, ws://, wss:// URL or unix:///path.',
      format: 'mqtt-server',
      default: 'embedded',
    },
    client_id: {
      doc: 'Client id at an external broker. Fixed, so the broker keeps the session (and queued commands) while the bridge is away.',
      format: 'text',
      default: 'vgpio2mqtt',
    },
    username: { doc: 'User name at an external broker; with the embedded broker, the login get, set, watch and capture use when broker.users is set (empty: none).', format: 'text', default: '' },
    password: { doc: 'Password at an external broker; with the embedded broker, the password get, set, watch and capture use when broker.users is set (empty: none).', format: 'text', default: '', sensitive: true },
    keepalive: { doc: 'MQTT keep-alive in seconds.', format: 'positive-int', default: 30 },
    qos: {
      doc: 'QoS (0 or 1) of what the bridge publishes to an external broker (states, edges, configs, availability, events, responses). 0 keeps the broker from sending a PUBACK per publication, which a broker with Nagle on (Mosquitto by default) makes the next command to the bridge wait for (~40 ms); 1 has the broker acknowledge each one.',
      format: 'qos',
      default: 0,
    },
    reconnect_ms: { doc: 'Pause between attempts to reach an external broker, in milliseconds.', format: 'positive-int', default: 2000 },
    ca: { doc: 'CA certificate file for mqtts:// and wss:// (null: system CAs).', format: 'optional-path', default: null, nullable: true },
    cert: { doc: 'Client certificate file for mqtts:// and wss:// (null: none).', format: 'optional-path', default: null, nullable: true },
    key: { doc: 'Client key file for mqtts:// and wss:// (null: none).', format: 'optional-path', default: null, nullable: true },
    reject_unauthorized: { doc: 'Refuse a TLS broker whose certificate does not verify.', format: 'flag', default: true },
  },
  broker: {
    host: { doc: 'Address the embedded broker listens on.', format: 'text', default: '127.0.0.1' },
    port: { doc: 'MQTT over TCP port of the embedded broker (null: off).', format: 'optional-port', default: 1883, nullable: true },
    ws_port: { doc: 'MQTT over WebSocket port of the embedded broker (null: off).', format: 'optional-port', default: null, nullable: true },
    tls_port: { doc: 'MQTT over TLS port of the embedded broker (null: off; needs tls_cert and tls_key).', format: 'optional-port', default: null, nullable: true },
    tls_cert: { doc: 'Certificate file for the embedded broker\'s TLS listener.', format: 'optional-path', default: null, nullable: true },
    tls_key: { doc: 'Key file for the embedded broker\'s TLS listener.', format: 'optional-path', default: null, nullable: true },
    tls_ca: { doc: 'CA file for the embedded broker\'s TLS listener (optional).', format: 'optional-path', default: null, nullable: true },
    persistence_dir: {
      doc: 'Folder where the embedded broker keeps retained messages and sessions across restarts (null: in memory).',
      format: 'optional-path',
      default: null,
      nullable: true,
    },
    max_packet_bytes: {
      doc: 'Largest MQTT packet a network client of the embedded broker may send, in bytes; a client announcing a larger one is disconnected before its body is read.',
      format: 'positive-int',
      default: DEFAULT_BROKER_LIMITS.maxPacketBytes,
    },
    max_connections: {
      doc: 'Network clients the embedded broker serves at once; further connections are closed at once.',
      format: 'positive-int',
      default: DEFAULT_BROKER_LIMITS.maxConnections,
    },
    max_publish_rate: {
      doc: 'PUBLISH packets per second one network client of the embedded broker may send on average (a one-second burst allowed); a faster client is slowed down, not dropped (null: no limit).',
      format: 'optional-positive-int',
      default: DEFAULT_BROKER_LIMITS.publishRate,
      nullable: true,
    },
    max_client_output_bytes: {
      doc: 'Bytes a network client of the embedded broker may leave unread (sent to it, not yet taken by it); a client that stops reading is disconnected past them, so it cannot grow the bridge without bound.',
      format: 'positive-int',
      default: DEFAULT_BROKER_LIMITS.maxClientOutputBytes,
    },
    users: {
      doc: 'Logins for the embedded broker (file only): list of {username, password, publish?, subscribe?}; empty: anyone may connect.',
      format: 'list',
      default: [],
      // It holds passwords: errors name its kind, never its contents.
      sensitive: true,
    },
  },
  homeassistant: {
    enabled: { doc: 'Publish Home Assistant discovery messages.', format: 'flag', default: true },
    discovery_prefix: { doc: 'Home Assistant discovery topic prefix.', format: 'topic-path', default: 'homeassistant' },
    status_topic: { doc: 'Topic where Home Assistant says "online" when it (re)starts; discovery is re-announced then.', format: 'topic-path', default: 'homeassistant/status' },
    support_url: {
      doc: 'Where users of this installation get help (the support_url Home Assistant shows for the discovered devices\' origin); null: none.',
      format: 'optional-url',
      default: null,
      nullable: true,
    },
  },
  metrics: {
    host: { doc: 'Address the HTTP endpoint for Prometheus metrics (/metrics) and the health report (/health) listens on.', format: 'text', default: '127.0.0.1' },
    port: { doc: 'Port of the metrics and health endpoint (null: off).', format: 'optional-port', default: 9464, nullable: true },
  },
  web: {
    enabled: { doc: 'Serve the live web view (lines, buttons, waveform) and MQTT over WebSocket on /mqtt for it.', format: 'flag', default: true },
    host: { doc: 'Address the web view listens on.', format: 'text', default: '127.0.0.1' },
    port: { doc: 'Port of the web view (0 picks a free port; the start-up log and bridge/info give the URL).', format: 'listen-port', default: 8080 },
    mqtt_url: {
      doc: 'With an external broker (mqtt.server not "embedded"): the ws:// or wss:// URL of its WebSocket listener the page connects to (null: the page shows no live view). Ignored with the embedded broker, whose WebSocket is /mqtt on the web listener.',
      format: 'optional-ws-url',
      default: null,
      nullable: true,
    },
    allowed_origins: {
      doc: 'Origins (scheme://host[:port], comma-separated on the command line) besides the web view\'s own whose pages may use its MQTT over WebSocket and the broker\'s ws_port listener, e.g. a reverse proxy\'s https://gpio.example.org; requests whose Origin or Host is not the listener\'s own or listed are refused.',
      format: 'origin-list',
      default: [],
    },
  },
  chips: {
    doc: 'The virtual GPIO chips (file only): see docs/configuration.md. Default: one server-mode chip "vgpio0" with 32 lines.',
    format: 'list',
    default: [{ name: 'vgpio0' }],
  },
};

function isLeaf(node: OptionSpec | SchemaTree): node is OptionSpec {
  return typeof (node as OptionSpec).doc === 'string' && 'format' in node;
}

/** Options set in the file only (lists of objects). */
const FILE_ONLY = new Set(['chips', 'broker.users']);

export interface OptionInfo extends OptionSpec {
  path: string;
  fileOnly: boolean;
}

/** Every leaf option with its path, environment variable and flag. */
export function listOptions(node: SchemaTree = tree, prefix = ''): OptionInfo[] {
  const out: OptionInfo[] = [];
  for (const [key, child] of Object.entries(node)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (isLeaf(child)) {
      const fileOnly = FILE_ONLY.has(path);
      out.push({
        ...child,
        path,
        fileOnly,
        ...(fileOnly ? {} : { env: ENV_PREFIX + path.replace(/\./g, '_').toUpperCase(), arg: path.replace(/[._]/g, '-') }),
      });
    } else {
      out.push(...listOptions(child, path));
    }
  }
  return out;
}

/** The schema handed to convict, with env and arg filled in. */
export function convictSchema(): SchemaTree {
  const build = (node: SchemaTree, prefix: string): SchemaTree => {
    const out: SchemaTree = {};
    for (const [key, child] of Object.entries(node)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (isLeaf(child)) {
        const info = listOptions().find((o) => o.path === path);
        // convict reads the environment itself; flags are parsed strictly in config/load.ts.
        out[key] = { ...child, ...(info?.env === undefined ? {} : { env: info.env }) };
      } else {
        out[key] = build(child, path);
      }
    }
    return out;
  };
  return build(tree, '');
}
