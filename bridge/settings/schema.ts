/**
 * The bridge's options, described once. From this object come: convict's
 * schema (validation, defaults, environment variables), the command-line
 * flags, `vgpio2mqtt --help` (config/help.ts), the reference in
 * docs/configuration.md (config/reference.ts), the checks of list items
 * (config/items.ts) and the TypeScript type of the settings
 * (config/types.ts, derived from `typeof schema`).
 *
 * Every top-level leaf gets `VGPIO2MQTT_<PATH>` as its environment variable
 * and `--<path>` as its flag, with `.` and `_` turned into `_` and `-`
 * respectively (mqtt.client_id: VGPIO2MQTT_MQTT_CLIENT_ID,
 * --mqtt-client-id); in the settings its key is camelCase (clientId).
 * Lists (format `list`) are set in the configuration file only; a list of
 * objects describes its items' fields in `items`, checked by
 * config/items.ts. What one field cannot say about itself (a chip's socket
 * depends on its mode, names must be unique) is a named rule in
 * config/chips.ts or config/rules.ts.
 */
import { DEFAULT_BROKER_LIMITS } from '../../broker/embedded.ts';
import { protocol } from '../../native/index.ts';
import type { FormatName } from './formats.ts';

export interface LeafSpec {
  doc: string;
  format: FormatName;
  /** For a list item's field, null with `nullable` unset: a rule fills it in (see `defaultText`). */
  default: unknown;
  nullable?: boolean;
  /** Errors name the value's kind, never the value (and --help never shows the default). */
  sensitive?: boolean;
  /** Bounds of format `integer`. */
  min?: number;
  max?: number;
  /** The choices of format `one-of`. */
  values?: readonly string[];
  /** The default in words, where a rule computes it or the field is required. */
  defaultText?: string;
  /** Markdown added after `doc` in docs/configuration.md only (links). */
  more?: string;
  /** For a list of objects: the fields of each item. */
  items?: GroupSpec;
}

export interface GroupSpec {
  readonly [key: string]: LeafSpec | GroupSpec;
}

export const ENV_PREFIX = 'VGPIO2MQTT_';

/** One login of the embedded broker (`broker.users[]`). */
const userFields = {
  username: { doc: 'User name.', format: 'text', default: null, defaultText: 'required' },
  password: { doc: 'Password.', format: 'text', default: null, defaultText: 'required' },
  publish: { doc: 'Topic filters the user may publish to; null: every topic.', format: 'topic-filters', nullable: true, default: null },
  subscribe: { doc: 'Topic filters the user may subscribe to; null: every topic.', format: 'topic-filters', nullable: true, default: null },
} as const satisfies GroupSpec;

/** One line of a chip (`chips[].lines[]`). */
const lineFields = {
  line: { doc: 'Line number, 0..ngpio-1, once per chip.', format: 'integer', min: 0, max: protocol.NGPIO_MAX - 1, default: null, defaultText: 'required' },
  name: {
    doc: 'Topic level (`<base>/<chip>/<name>`), unique in the chip; the guest\'s `gpioinfo` shows it. A name that is a number must be the line\'s own number. Two lines of a chip whose names give the same Home Assistant entity id part (lower case, runs of other characters as one `_`: `Button` and `button!`) are refused, naming both.',
    format: 'line-name',
    default: null,
    defaultText: 'the number',
  },
  direction: {
    doc: 'What the host expects: `input` = the host drives it (commands allowed; a Home Assistant switch), `output` = the guest drives it (commands refused; a binary sensor).',
    format: 'one-of',
    values: ['input', 'output'],
    default: 'input',
  },
  payload_on: { doc: 'State payload for ON; also accepted as a command.', format: 'payload', default: 'ON' },
  payload_off: { doc: 'State payload for OFF; also accepted as a command. Must differ from payload_on.', format: 'payload', default: 'OFF' },
  inverted: { doc: 'ON means electrical low; edges are named after the published state.', format: 'flag', default: false },
  retain: { doc: 'Publish the state retained.', format: 'flag', default: true },
  pulse_ms: {
    doc: 'Every ON/OFF/TOGGLE command becomes a pulse of this length (a momentary button); a JSON command\'s `pulse_ms` overrides it (0: latch). null: commands latch.',
    format: 'integer',
    min: 1,
    max: 3_600_000,
    nullable: true,
    default: null,
  },
  debounce_ms: {
    doc: 'A guest-driven line\'s state is published once it has been stable this long (edges are still all published).',
    format: 'integer',
    min: 0,
    max: 60_000,
    default: 0,
  },
} as const satisfies GroupSpec;

/** One wire between lines (`wires[]`), see docs/signals.md. */
const wireFields = {
  from: {
    doc: 'The output line that drives the wire, as `<chip>/<line>` (a line name or number); the chip must configure it `direction: output` (the guest drives it).',
    format: 'line-ref',
    default: null,
    defaultText: 'required',
  },
  to: {
    doc: 'The input lines it drives, each `<chip>/<line>` of the same or another chip, configured `direction: input` (the default). Several wires to one line make one net: open drain with a pull-up (low wins), driving it both ways is counted as contention.',
    format: 'line-refs',
    default: null,
    defaultText: 'required',
  },
  inverted: { doc: 'The inputs get the opposite of the output\'s level (logical levels, after each line\'s own `inverted`).', format: 'flag', default: false },
  delay_ms: { doc: 'Each change reaches the inputs this many milliseconds after the output changed (0: at once).', format: 'integer', min: 0, max: 60_000, default: 0 },
} as const satisfies GroupSpec;

/** One virtual gpiochip (`chips[]`). */
const chipFields = {
  name: {
    doc: 'Topic level of the chip (`<base>/<name>/...`), unique, also as Home Assistant sees it: two chips whose names give the same discovery id (every character outside `A-Z a-z 0-9 _ -` becomes `_`: `my board` and `my_board`) or the same entity id part (lower case, runs of other characters as one `_`: `My-Board` and `my_board`) are refused, naming both.',
    format: 'chip-name',
    default: null,
    defaultText: 'required',
    more: 'See [Home Assistant](home-assistant.md#ids).',
  },
  mode: {
    doc: '`server`: an ivshmem server of the bridge\'s own listens on `socket` (guests get interrupts); it runs in a process of its own that outlives the bridge, so guests survive a bridge restart or upgrade. `client`: the bridge joins the external ivshmem server at `socket` as a peer. `plain`: a shared-memory file for `ivshmem-plain`, no doorbells, both sides poll.',
    format: 'one-of',
    values: ['server', 'client', 'plain'],
    default: 'server',
    more: 'See [the ivshmem server process](ivshmem.md#the-server-process).',
  },
  ngpio: { doc: 'Number of lines.', format: 'integer', min: protocol.NGPIO_MIN, max: protocol.NGPIO_MAX, default: 32 },
  ring_len: { doc: 'Entries in the guest-to-host event ring.', format: 'ring-len', default: protocol.RING_LEN_DEFAULT },
  socket: {
    doc: 'The ivshmem server socket (server: created by the bridge\'s server process, removed when that process exits, with its pid in `<socket>.pid`; client: required). Not allowed in plain mode. The runtime folder is created; a configured folder must exist and pass the same checks.',
    format: 'optional-path',
    nullable: true,
    default: null,
    defaultText: 'server: `<runtime folder>/<name>.sock`',
    more: 'See [runtime folder](#runtime-folder).',
  },
  socket_mode: {
    doc: 'Permissions of the server socket and of the agent socket: an octal string in quotes (YAML reads an unquoted `0660` as the decimal number 660, which is refused with that hint).',
    format: 'socket-mode',
    default: '0600',
  },
  shm: {
    doc: 'The shared-memory file. It is kept when the bridge stops, so a restart re-attaches and keeps every level. An existing file must belong to the bridge\'s user and be writable by nobody else. A running server process must serve this file with this `size` and `vectors`, or the chip does not start (the error says what differs and how to stop that process). Not allowed in client mode (the server hands it over).',
    format: 'optional-path',
    nullable: true,
    default: null,
    defaultText: 'server and plain: `/dev/shm/vgpio2mqtt-<name>`',
    more: 'See [runtime folder](#runtime-folder).',
  },
  size: {
    doc: 'Bytes of shared memory: a power of two at least what `ngpio` and `ring_len` need (8192 for up to 32 lines), at most 1 GiB. Not allowed in client mode.',
    format: 'shm-size',
    default: null,
    defaultText: 'smallest that fits',
  },
  agent_socket: {
    doc: 'Unix socket where the bridge accepts the guest agent\'s virtio-serial connection (QEMU\'s `-chardev socket`, printed by `qemu-args`). Each connection is served by the embedded broker, or relayed byte for byte to an external `mqtt://`, `mqtts://` or `unix://` broker (a `ws://`/`wss://` broker is a configuration error); when one closes the bridge publishes `<base>/<label>/agent` `offline` (the agent names a chip by its gpiochip `label`). Created at start (a stale file is replaced, a path where another server listens is an error; its folder must exist), removed on exit. Any mode; a path no other chip\'s `socket`, `shm` or `agent_socket` uses. null: none.',
    format: 'optional-path',
    nullable: true,
    default: null,
    more: 'See [guest agent](agent.md).',
  },
  vectors: { doc: 'ivshmem doorbell vectors per peer.', format: 'integer', min: protocol.VECTORS_MIN, max: 64, default: protocol.VECTORS_MIN },
  label: { doc: 'gpiochip label the guest shows.', format: 'label', default: null, defaultText: 'the name' },
  queue_limit: {
    doc: 'Input changes that may wait per line behind an interrupt the guest has not acknowledged; more are refused (`queue_overflow`).',
    format: 'integer',
    min: 1,
    max: 1024,
    default: 16,
  },
  poll_ms: {
    doc: 'How often the bridge reads the shared memory on its own: in plain mode the only way it sees the guest, with doorbells a safety net while a guest peer is connected (a chip with no peer on its ivshmem server is not polled).',
    format: 'integer',
    min: 1,
    max: 60_000,
    default: null,
    defaultText: 'plain: 10, else 1000',
  },
  lines: {
    doc: 'Per-line settings (`chips[].lines[]`); lines not listed keep the defaults and are named by their number.',
    format: 'list',
    default: [],
    items: lineFields,
  },
} as const satisfies GroupSpec;

export const schema = {
  base_topic: { doc: 'Topic prefix of everything the bridge publishes and listens to.', format: 'topic-path', default: 'vgpio2mqtt' },
  log_level: { doc: 'Least important log level printed: error, warn, info or debug.', format: 'log-level', default: 'info' },
  mqtt: {
    server: {
      doc: '"embedded" runs the built-in broker (see broker.*); else the external broker to use: mqtt://, mqtts://, ws://, wss:// URL or unix:///path; or the nodes of a clustered broker, a list of mqtt:// or mqtts:// URLs (comma-separated in a flag or environment variable), tried in `server_order` and on every reconnect the next one.',
      format: 'mqtt-server',
      more: 'See [Clustered broker](deployment.md#a-clustered-broker).',
      default: 'embedded',
    },
    server_order: {
      doc: 'With a list of brokers in `server`: `ordered` connects to the first and fails over down the list; `random` starts at a random one (then goes round the list from there), to spread bridges across the nodes of a cluster.',
      format: 'one-of',
      values: ['ordered', 'random'],
      default: 'ordered',
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
      more: 'See [External broker](#external-broker).',
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
      more: 'See [broker limits](#broker-limits).',
    },
    users: {
      doc: 'Logins for the embedded broker (`broker.users[]`); empty: anyone may connect.',
      format: 'list',
      default: [],
      // It holds passwords: errors name its kind, never its contents.
      sensitive: true,
      items: userFields,
      more: 'See [Broker users](#broker-users).',
    },
  },
  homeassistant: {
    enabled: {
      doc: 'Publish Home Assistant discovery messages. Off: the bridge clears the discovery configs it retained before.',
      format: 'flag',
      default: true,
      more: 'See [Home Assistant](home-assistant.md#re-announcing-and-cleaning-up).',
    },
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
    host: { doc: 'Address the HTTP endpoint for Prometheus metrics (/metrics) and the health report (/health) listens on.', format: 'text', default: '127.0.0.1', more: 'See [metrics](metrics.md).' },
    port: { doc: 'Port of the metrics and health endpoint (null: off).', format: 'optional-port', default: 9464, nullable: true },
  },
  web: {
    enabled: { doc: 'Serve the live web view (lines, buttons, waveform) and MQTT over WebSocket on /mqtt for it.', format: 'flag', default: true, more: 'See [web view](web.md).' },
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
      more: 'See [web view](web.md#who-may-connect).',
    },
  },
  chips: {
    doc: 'The virtual GPIO chips (`chips[]`), each one gpiochip a guest sees. Default: one server-mode chip "vgpio0" with 32 lines.',
    format: 'list',
    default: [{ name: 'vgpio0' }],
    items: chipFields,
  },
  wires: {
    doc: 'Wires from an output line of a chip to input lines of the same or other chips (`wires[]`); the bridge carries each change of the output to the inputs itself, without MQTT. Default: none.',
    format: 'list',
    default: [],
    items: wireFields,
    more: 'See [signals](signals.md#wires).',
  },
} as const satisfies GroupSpec;

/** `mqtt.client_id`: VGPIO2MQTT_MQTT_CLIENT_ID. */
export const envName = (path: string): string => ENV_PREFIX + path.replace(/\./g, '_').toUpperCase();
/** `mqtt.client_id`: mqtt-client-id (the flag --mqtt-client-id). */
export const flagName = (path: string): string => path.replace(/[._]/g, '-');

export function isLeaf(node: LeafSpec | GroupSpec): node is LeafSpec {
  return typeof node.doc === 'string' && typeof node.format === 'string';
}

/** snake_case to camelCase, as config/types.ts does it on types: `client_id` is `clientId`. */
export function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export interface OptionInfo extends LeafSpec {
  /** Dotted path; a list item's field is `chips[].lines[].name`. */
  path: string;
  /** Set in the configuration file only: lists and list items' fields. */
  fileOnly: boolean;
  env?: string;
  arg?: string;
}

/** Every leaf option under `node`, in schema order, with its environment variable and flag; `items: true` adds list items' fields. */
export function listOptions(node: GroupSpec = schema, prefix = '', { items = false } = {}): OptionInfo[] {
  const out: OptionInfo[] = [];
  const inItem = prefix.endsWith('[]');
  for (const [key, child] of Object.entries(node)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (!isLeaf(child)) {
      out.push(...listOptions(child, path, { items }));
      continue;
    }
    const fileOnly = inItem || child.format === 'list';
    out.push({
      ...child,
      path,
      fileOnly,
      ...(fileOnly ? {} : { env: envName(path), arg: flagName(path) }),
    });
    if (items && child.items !== undefined) out.push(...listOptions(child.items, `${path}[]`, { items }));
  }
  return out;
}

/** The schema handed to convict, with env filled in (convict reads the environment itself; flags are parsed strictly in config/load.ts). */
export function convictSchema(node: GroupSpec = schema, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(node)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (!isLeaf(child)) out[key] = convictSchema(child, path);
    else if (child.format === 'list') out[key] = { ...child };
    else out[key] = { ...child, env: envName(path) };
  }
  return out;
}
