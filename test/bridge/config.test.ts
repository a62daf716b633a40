/**
 * Configuration: precedence (defaults < file < environment < flags),
 * chip and line defaults, the commented example, and the exact error for
 * every kind of bad value. Also the CLI refusing bad configuration before
 * opening anything.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigError, loadSettings, optionsHelp } from '../../bridge/settings/load.ts';
import { listOptions } from '../../bridge/settings/schema.ts';
import { qemuArgs } from '../../bridge/guest-setup/qemu-args.ts';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../bridge/cli.ts');
const EXAMPLE = join(import.meta.dirname, '../../config/vgpio2mqtt.example.yaml');

describe('configuration', () => {
  let dir: string;
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const problems = (text: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): string[] => {
    try {
      loadSettings({ args: ['-c', file('bad.yaml', text), ...args], env });
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error.problems;
    }
    return assert.fail('the configuration was accepted');
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-config-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('has defaults that run: embedded broker on 127.0.0.1:1883, one server-mode chip of 32 lines', () => {
    const s = loadSettings({ env: {} });
    assert.equal(s.mqtt.server, 'embedded');
    assert.deepEqual([s.broker.host, s.broker.port], ['127.0.0.1', 1883]);
    assert.equal(s.chips.length, 1);
    const chip = s.chips[0] ?? assert.fail();
    assert.deepEqual([chip.name, chip.mode, chip.ngpio, chip.size, chip.vectors], ['vgpio0', 'server', 32, 8192, 1]);
    assert.equal(chip.socket, '/run/vgpio2mqtt/vgpio0.sock');
    assert.equal(chip.shm, '/dev/shm/vgpio2mqtt-vgpio0');
    assert.equal(chip.lines.length, 32);
    assert.deepEqual([chip.lines[5]?.name, chip.lines[5]?.configured], ['5', false]);
  });

  it('layers file < environment < flags', () => {
    const path = file('layers.yaml', 'log_level: warn\nbase_topic: fromfile\nbroker: { port: 2000 }\n');
    const fileOnly = loadSettings({ args: ['-c', path], env: {} });
    assert.deepEqual([fileOnly.logLevel, fileOnly.baseTopic, fileOnly.broker.port], ['warn', 'fromfile', 2000]);
    const env = loadSettings({ args: ['-c', path], env: { VGPIO2MQTT_LOG_LEVEL: 'debug', VGPIO2MQTT_BROKER_PORT: 'null' } });
    assert.deepEqual([env.logLevel, env.broker.port], ['debug', null]);
    const flags = loadSettings({ args: ['--config', path, '--log-level', 'error', '--broker-port=3000'], env: { VGPIO2MQTT_LOG_LEVEL: 'debug' } });
    assert.deepEqual([flags.logLevel, flags.broker.port, flags.baseTopic], ['error', 3000, 'fromfile']);
    const viaEnv = loadSettings({ env: { VGPIO2MQTT_CONFIG: path } });
    assert.equal(viaEnv.file, path);
    const json = loadSettings({ args: ['-c', file('c.json', '{"homeassistant": {"enabled": false}}')], env: {} });
    assert.equal(json.homeassistant.enabled, false);
  });

  it('accepts the commented example in config/', () => {
    const s = loadSettings({ args: ['-c', EXAMPLE], env: {} });
    assert.ok(s.chips.length >= 2);
    assert.ok(s.chips.some((c) => c.mode === 'plain'));
    assert.ok(s.chips.some((c) => c.lines.some((l) => l.configured && l.direction === 'output')));
  });

  it('completes chips: sizes, poll periods and lines', () => {
    const s = loadSettings({
      args: ['-c', file('chips.yaml', `chips:
  - { name: big, mode: plain, ngpio: 1024, shm: /dev/shm/x-big }
  - name: ext
    mode: client
    socket: /run/ivshmem.sock
    lines: [{ line: 3, name: relay, inverted: true, payload_on: CLOSED, payload_off: OPEN, pulse_ms: 250, retain: false }]
`)],
      env: {},
    });
    const [big, ext] = s.chips;
    assert.deepEqual([big?.size, big?.pollMs, big?.socket], [65536, 10, null]);
    assert.deepEqual([ext?.shm, ext?.pollMs], [null, 1000]);
    assert.deepEqual(ext?.lines[3], {
      line: 3, name: 'relay', configured: true, direction: 'input', payloadOn: 'CLOSED', payloadOff: 'OPEN',
      inverted: true, retain: false, pulseMs: 250, debounceMs: 0,
    });
  });

  it('names the option, the bad value and what is allowed', () => {
    assert.deepEqual(problems('log_level: loud\nbroker: { port: 70000, ws_port: "x" }\nmqtt: { server: "http://x", keepalive: 0 }\nbase_topic: "a/+/b"\n'), [
      'base_topic: got "a/+/b"; allowed: topic levels separated by /, none empty, without + or #',
      'log_level: got "loud"; allowed: error, warn, info or debug',
      'mqtt.server: got "http://x"; allowed: "embedded", mqtt://host[:port], mqtts://host[:port], ws://host[:port][/path], wss://... or unix:///path/to/socket, or a list of mqtt:// and mqtts:// URLs',
      'mqtt.keepalive: got 0; allowed: an integer >= 1',
      'broker.port: got 70000; allowed: an integer port 0..65535 (0 picks a free port) or null to turn the listener off',
      'broker.ws_port: got "x"; allowed: an integer port 0..65535 (0 picks a free port) or null to turn the listener off',
    ]);
    assert.deepEqual(problems('mqtt: { srever: x }\nchip: []\n'), [
      'chip: unknown option; allowed: the options listed by vgpio2mqtt --help',
      'mqtt.srever: unknown option; allowed: the options listed by vgpio2mqtt --help',
    ]);
    assert.deepEqual(problems('', ['--log-level', 'loud', '--bogus', '1', '--log-levle', 'x']), [
      'command line: unknown option --bogus; see vgpio2mqtt --help',
      'command line: unknown option --log-levle, did you mean --log-level?; see vgpio2mqtt --help',
    ]);
    assert.deepEqual(problems('', [], { VGPIO2MQTT_LOG_LVL: 'x', VGPIO2MQTT_BROKER_PORT: '-1' }), [
      'VGPIO2MQTT_LOG_LVL: unknown environment variable; allowed: VGPIO2MQTT_CONFIG and the variables listed by vgpio2mqtt --help',
      'broker.port: got -1; allowed: an integer port 0..65535 (0 picks a free port) or null to turn the listener off',
    ]);
    assert.deepEqual(problems('mqtt: { password: 5 }\n'), ['mqtt.password: got a number (value hidden); allowed: a string']);
    assert.deepEqual(problems('broker: { tls_port: 8883 }\n'), ['broker.tls_port: got a port without broker.tls_cert and broker.tls_key; allowed: null, or a port with both files set']);
    assert.deepEqual(problems('homeassistant: { support_url: "ftp://x" }\n', ['--homeassistant-support-url', 'nope']), [
      'homeassistant.support_url: got "nope"; allowed: an http:// or https:// URL, or null',
    ]);
    const url = loadSettings({ args: ['-c', file('ok.yaml', 'homeassistant: { support_url: "https://wiki.example/vgpio" }\n')], env: {} });
    assert.equal(url.homeassistant.supportUrl, 'https://wiki.example/vgpio');
    assert.equal(loadSettings({ args: ['-c', file('ok.yaml', '{}\n')], env: {} }).homeassistant.supportUrl, null);
  });

  it('refuses a mapping where a list belongs, instead of ignoring it', () => {
    const list = 'a list (in YAML, one "- " entry per item)';
    assert.deepEqual(problems('broker: { users: { username: ha, password: s3cret } }\n'), [`broker.users: got a mapping (username, password); allowed: ${list}`]);
    assert.deepEqual(problems('chips: { name: a }\n'), [`chips: got a mapping (name); allowed: ${list}`]);
    assert.deepEqual(problems('chips: [{ name: a, lines: { line: 1 } }]\n'), [`chips[0].lines: got {"line":1}; allowed: ${list}`]);
    assert.deepEqual(problems('broker: { users: [{ username: ha, password: p, publish: { a: b } }] }\n'), [`broker.users[0].publish: got a mapping (a) (value hidden); allowed: ${list}`]);
    assert.deepEqual(problems('broker: { port: { a: 1 } }\n'), ['broker.port: got a mapping (a); allowed: a single value, not a mapping (see vgpio2mqtt --help for broker.port)']);
  });

  it('says a group of options takes a mapping in one line', () => {
    assert.deepEqual(problems('broker: 5\n'), ['broker: got a number; allowed: a mapping of broker.* options (host, port, ws_port, tls_port, tls_cert, tls_key, tls_ca, persistence_dir, max_packet_bytes, max_connections, max_publish_rate, max_client_output_bytes, users)']);
    assert.deepEqual(problems('mqtt: [a]\nmetrics:\n'), ['mqtt: got a list of 1; allowed: a mapping of mqtt.* options (server, server_order, client_id, username, password, keepalive, qos, reconnect_ms, ca, cert, key, reject_unauthorized)']);
  });

  it('explains an unquoted socket_mode', () => {
    assert.deepEqual(problems('chips: [{ name: a, socket_mode: 0660 }]\n'), [
      'chips[0].socket_mode: got 660; allowed: an octal permission string such as "0600" or "0660" in quotes (YAML reads an unquoted 0660 as the decimal number 660)',
    ]);
    assert.equal(loadSettings({ args: ['-c', file('mode.yaml', 'chips: [{ name: a, socket_mode: "0660" }]\n')], env: {} }).chips[0]?.socketMode, 0o660);
  });

  it('never echoes a secret in an error', () => {
    const found = problems(`broker:
  users:
    - { username: ha, password: 5550123 }
    - { username: 5550124, password: x }
    - "ha:5550125"
    - { username: ok, pasword: "5550126" }
    - { username: ok2, password: "" }
  port: 5550127
mqtt: { password: [5550128] }
`);
    assert.deepEqual(found, [
      'mqtt.password: got a list of 1 (value hidden); allowed: a string',
      'broker.port: got 5550127; allowed: an integer port 0..65535 (0 picks a free port) or null to turn the listener off',
      'broker.users[0].password: got a number (value hidden); allowed: a string',
      'broker.users[1].username: got a number (value hidden); allowed: a string',
      'broker.users[2]: got a string (value hidden); allowed: an object (key: value pairs)',
      'broker.users[3].password: got nothing (value hidden); allowed: a non-empty password',
      'broker.users[3].pasword: unknown option; allowed: username, password, publish, subscribe',
      'broker.users[4].password: got an empty string (value hidden); allowed: a non-empty password',
    ]);
    for (const secret of ['5550123', '5550124', '5550125', '5550126', '5550128']) assert.ok(!found.join('\n').includes(secret), secret);
  });

  it('refuses bad chips and lines, each problem with its path', () => {
    assert.deepEqual(
      problems(`chips:
  - name: "a/b"
    mode: sever
    ngpio: 2000
    ring_len: 100
    lines: 5
  - name: bridge
  - { name: ok, mode: client }
  - { name: ok2, mode: plain, socket: /x.sock, size: 5000 }
  - { name: dup }
  - { name: dup }
  - 7
  - name: lines
    colour: red
    lines:
      - { line: 1, name: "3" }
      - { line: 2, name: availability, direction: up, payload_on: "", debounce_ms: -1 }
      - { line: 4, name: a }
      - { line: 5, name: a }
      - { line: 4, name: b }
      - { name: c }
      - { line: 6, payload_on: X, payload_off: X, pulse_ms: 0, color: 1 }
`),
      [
        "chips[0].name: got \"a/b\"; allowed: a non-empty name without +, #, /, NUL or surrounding white space",
        "chips[0].mode: got \"sever\"; allowed: server, client, plain",
        "chips[0].ngpio: got 2000; allowed: an integer 1..1024",
        "chips[0].ring_len: got 100; allowed: a power of two, 16..65536",
        "chips[0].lines: got 5; allowed: a list (in YAML, one \"- \" entry per item)",
        "chips[1].name: got \"bridge\"; allowed: any name but bridge (reserved for the bridge's own topics)",
        "chips[2].socket: got nothing; allowed: the external ivshmem server's socket path (required in client mode)",
        "chips[3].socket: got \"/x.sock\"; allowed: nothing: plain mode has no ivshmem server",
        "chips[3].size: got 5000; allowed: an integer 8192..1073741824",
        "chips[5].name: got \"dup\"; allowed: a chip name used once",
        "chips[6]: got 7; allowed: an object (key: value pairs)",
        "chips[7].lines[0].name: got \"3\"; allowed: a name that is not a number, or the line's own number 1 (numbers name lines)",
        "chips[7].lines[1].name: got \"availability\"; allowed: any name but availability, agent, edge, set, config, received, lineinfo (reserved for the bridge's own topics)",
        "chips[7].lines[1].direction: got \"up\"; allowed: input, output",
        "chips[7].lines[1].payload_on: got \"\"; allowed: a non-empty string of at most 64 characters",
        "chips[7].lines[1].debounce_ms: got -1; allowed: an integer 0..60000",
        "chips[7].lines[3].name: got \"a\"; allowed: a name unique in the chip (line 4 has it)",
        "chips[7].lines[4].line: got 4; allowed: each line number once per chip",
        "chips[7].lines[5].line: got nothing; allowed: the line number, 0..31",
        "chips[7].lines[6].pulse_ms: got 0; allowed: an integer 1..3600000 or null",
        "chips[7].lines[6].payload_off: got \"X\"; allowed: anything but payload_on (\"X\")",
        "chips[7].lines[6].color: unknown option; allowed: line, name, direction, payload_on, payload_off, inverted, retain, pulse_ms, debounce_ms",
        "chips[7].colour: unknown option; allowed: name, mode, ngpio, ring_len, socket, socket_mode, shm, size, agent_socket, vectors, label, queue_limit, poll_ms, lines",
      ],
    );
  });

  it('takes an agent socket per chip (default none) and prints its virtio-serial port in the QEMU options', () => {
    const s = loadSettings({
      args: ['-c', file('agent.yaml', `chips:
  - { name: a, socket: /tmp/x/a.sock, agent_socket: /tmp/x/a-agent.sock, socket_mode: "0660" }
  - { name: b, mode: plain, shm: /dev/shm/x-b, agent_socket: "/tmp/x/b,agent.sock" }
  - { name: c, mode: plain, shm: /dev/shm/x-c }
`)],
      env: {},
    });
    const [a, b, c] = s.chips;
    assert.deepEqual([a?.agentSocket, a?.socketMode, b?.agentSocket, c?.agentSocket], ['/tmp/x/a-agent.sock', 0o660, '/tmp/x/b,agent.sock', null]);
    assert.equal(loadSettings({ env: {} }).chips[0]?.agentSocket, null, 'no agent socket unless configured');
    assert.deepEqual(qemuArgs(a ?? assert.fail()), [
      '-chardev', 'socket,id=vgpio-a,path=/tmp/x/a.sock',
      '-device', 'ivshmem-doorbell,chardev=vgpio-a,vectors=1',
      '-chardev', 'socket,id=vgpio-a-agent,path=/tmp/x/a-agent.sock,reconnect=1',
      '-device', 'virtio-serial-pci',
      '-device', 'virtserialport,chardev=vgpio-a-agent,name=vgpio2mqtt',
    ]);
    assert.deepEqual(qemuArgs(b ?? assert.fail()).slice(4, 6), ['-chardev', 'socket,id=vgpio-b-agent,path=/tmp/x/b,,agent.sock,reconnect=1']);
    assert.deepEqual(qemuArgs(c ?? assert.fail()).length, 4, 'no agent options without an agent socket');
    // Relayed to an external broker over mqtt://, mqtts:// or unix://.
    for (const server of ['mqtt://127.0.0.1:1883', 'mqtts://broker.lan', 'unix:///run/mosquitto.sock']) {
      assert.equal(loadSettings({ args: ['-c', file('relay.yaml', 'chips: [{ name: a, agent_socket: /tmp/x/a.sock }]\n'), '--mqtt-server', server], env: {} }).chips[0]?.agentSocket, '/tmp/x/a.sock');
    }
  });

  it('refuses bad agent sockets, each problem with its path', () => {
    assert.deepEqual(
      problems(`chips:
  - { name: a, agent_socket: "" }
  - { name: b, agent_socket: 5 }
  - { name: c, socket: /tmp/x/c.sock, agent_socket: /tmp/x/c.sock }
  - { name: d, mode: plain, shm: /dev/shm/x-d, agent_socket: /dev/shm/x-d }
  - { name: e, agent_socket: /tmp/x/e.sock }
  - { name: f, agent_socket: /tmp/x/e.sock }
  - { name: g, lines: [{ line: 0, name: agent }] }
`),
      [
        'chips[0].agent_socket: got ""; allowed: a file or folder path, or null',
        'chips[1].agent_socket: got 5; allowed: a file or folder path, or null',
        'chips[2].agent_socket: got "/tmp/x/c.sock"; allowed: a socket path no other chip or option uses',
        'chips[3].agent_socket: got "/dev/shm/x-d"; allowed: a socket path no other chip or option uses',
        'chips[5].agent_socket: got "/tmp/x/e.sock"; allowed: a socket path no other chip or option uses',
        "chips[6].lines[0].name: got \"agent\"; allowed: any name but availability, agent, edge, set, config, received, lineinfo (reserved for the bridge's own topics)",
      ],
    );
    assert.deepEqual(problems('chips: [{ name: a }, { name: b, agent_socket: /tmp/x/b.sock }]\n', ['--mqtt-server', 'ws://127.0.0.1:9001']), [
      'chips[1].agent_socket: got "/tmp/x/b.sock"; allowed: null while mqtt.server is a WebSocket URL (agent connections are relayed to mqtt://, mqtts:// or unix:// brokers, or served by the embedded one)',
    ]);
  });
  it('refuses names Home Assistant or the topic layout could not tell apart, naming both', () => {
    assert.deepEqual(
      problems(`chips:
  - name: my board
  - name: my_board
  - name: My-Board
  - name: x
    lines:
      - { line: 0, name: Button }
      - { line: 1, name: button }
      - { line: 2, name: "button!" }
      - { line: 3, name: received }
      - { line: 4, name: lineinfo }
      - { line: 5, name: set }
      - { line: 6, name: edge }
      - { line: 7, name: config }
`),
      [
        'chips[1].name: got "my_board"; allowed: a name Home Assistant can tell from chips[0].name "my board" (both give the discovery id "my_board")',
        'chips[2].name: got "My-Board"; allowed: a name Home Assistant can tell from chips[0].name "my board" (both give entity ids starting "my_board_")',
        'chips[3].lines[1].name: got "button"; allowed: a name Home Assistant can tell from line 0 "Button" (both give entity ids ending in "x_button")',
        'chips[3].lines[2].name: got "button!"; allowed: a name Home Assistant can tell from line 0 "Button" (both give entity ids ending in "x_button")',
        ...['received', 'lineinfo', 'set', 'edge', 'config'].map((name, i) => `chips[3].lines[${i + 3}].name: got "${name}"; allowed: any name but availability, agent, edge, set, config, received, lineinfo (reserved for the bridge's own topics)`),
      ],
    );
  });
});

describe('the CLI and bad configuration', () => {
  it('exits 2 with the problems before opening anything', async () => {
    const socket = join(tmpdir(), `vgpio-never-${process.pid}.sock`);
    try {
      await run(process.execPath, ['--import', 'tsx', CLI, '--log-level', 'loud'], { env: { PATH: process.env.PATH, VGPIO2MQTT_CHIPS_X: '1' } });
      assert.fail('the CLI accepted a bad log level');
    } catch (error) {
      const e = error as { code: number; stderr: string };
      assert.equal(e.code, 2);
      assert.match(e.stderr, /log_level: got "loud"; allowed: error, warn, info or debug/);
      assert.match(e.stderr, /VGPIO2MQTT_CHIPS_X: unknown environment variable/);
    }
    assert.equal(existsSync(socket), false);
  });

  it('refuses colliding chip names at start: exit 2, both names in the message, nothing opened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-collide-'));
    try {
      const config = join(dir, 'c.yaml');
      writeFileSync(config, `chips:\n  - { name: my board, socket: ${join(dir, 'a.sock')} }\n  - { name: my_board, socket: ${join(dir, 'b.sock')} }\n`);
      const failed = await run(process.execPath, ['--import', 'tsx', CLI, 'start', '-c', config], { env: { PATH: process.env.PATH } }).then(
        () => assert.fail('the bridge started with colliding chip names'),
        (error: unknown) => error as { code: number; stderr: string },
      );
      assert.equal(failed.code, 2);
      assert.match(failed.stderr, /chips\[1\]\.name: got "my_board"; allowed: a name Home Assistant can tell from chips\[0\]\.name "my board"/);
      assert.equal(existsSync(join(dir, 'a.sock')), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('documents every option in --help, with its flag and environment variable', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', CLI, '--help']);
    for (const option of listOptions()) {
      assert.ok(stdout.includes(`  ${option.path}  (`), `--help lists ${option.path}`);
      if (option.env !== undefined) assert.ok(stdout.includes(option.env));
      assert.ok(stdout.includes(option.doc));
    }
    assert.ok(stdout.includes(optionsHelp()));
    const version = await run(process.execPath, ['--import', 'tsx', CLI, '--version']);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it('is documented: every option in docs/configuration.md', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../docs/configuration.md'), 'utf8');
    for (const option of listOptions()) {
      assert.ok(doc.includes(`| \`${option.path}\` |`), `docs/configuration.md lists ${option.path}`);
      if (option.env !== undefined) assert.ok(doc.includes(`\`${option.env}\``), `docs/configuration.md names ${option.env}`);
    }
  });

  it('refuses unknown commands, unknown flags and wrong argument counts', async () => {
    for (const [args, message] of [
      [['--brokr-port', '5'], /^vgpio2mqtt: unknown option --brokr-port, did you mean --broker-port\? \(see vgpio2mqtt --help\)\n$/],
      [['qemu-args', 'vgpio0', '--mqtt-keepalive', '-1'], /^vgpio2mqtt: invalid configuration:\n {2}mqtt.keepalive: got -1; allowed: an integer >= 1\n$/],
      [['frobnicate'], /unknown command "frobnicate"; allowed: start, qemu-args, get, set, watch/],
      [['get'], /get takes 1 to 2 argument\(s\), got 0; usage: vgpio2mqtt get \[<chip>\] <line>/],
    ] as const) {
      const result = await run(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { PATH: process.env.PATH } }).catch((e: unknown) => e as { code: number; stderr: string });
      assert.equal((result as { code: number }).code, 2);
      assert.match((result as { stderr: string }).stderr, message);
    }
  });
});
