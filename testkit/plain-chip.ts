/**
 * The configuration of a bridge with one plain-mode chip, as the tests,
 * benchmarks and fake-board rigs write it: a TCG guest (the QEMU options
 * `qemu-args` prints) or a fake guest attaches to its shared memory. By
 * default no metrics listener and no web view: their fixed default ports
 * would collide with any other bridge on the machine.
 */
export interface PlainChipConfig {
  /** Omitted: the bridge's default, vgpio2mqtt. */
  baseTopic?: string;
  /** The embedded broker's TCP port; null: none (the web view's MQTT over WebSocket only). */
  port: number | null;
  /** `broker.users` entries, as YAML flow mappings. */
  users?: string[] | undefined;
  /** The metrics listener's port: null (the default) for none, 0 for a free one. */
  metricsPort?: number | null;
  /** true: the web view on a free port. Default: no web view. */
  web?: boolean;
  /** Default: board. */
  chip?: string;
  /** Where the chip's shared-memory file goes: `<dir>/board.shm` unless `shm` names the file. */
  dir: string;
  shm?: string;
  /** Default: 5. */
  pollMs?: number;
  /** Default: 8. */
  ngpio?: number;
  /** More keys of the chip, e.g. `size: 1048576`. */
  chipKeys?: string[];
  /** YAML flow mappings, e.g. `{ line: 0, name: button }`. */
  lines: string[];
}

export function plainChipYaml(c: PlainChipConfig): string {
  const users = c.users === undefined ? '' : `\n  users:\n${c.users.map((u) => `    - ${u}\n`).join('')}`;
  const chipKeys = (c.chipKeys ?? []).map((key) => `    ${key}\n`).join('');
  return `${c.baseTopic === undefined ? '' : `base_topic: ${c.baseTopic}\n`}broker:
  port: ${c.port ?? 'null'}${users.trimEnd()}
metrics: { port: ${c.metricsPort ?? 'null'} }
web: ${c.web === true ? '{ port: 0 }' : '{ enabled: false }'}
homeassistant: { enabled: false }
chips:
  - name: ${c.chip ?? 'board'}
    mode: plain
    shm: ${c.dir}/${c.shm ?? 'board.shm'}
    poll_ms: ${c.pollMs ?? 5}
    ngpio: ${c.ngpio ?? 8}
${chipKeys}    lines:
${c.lines.map((line) => `      - ${line}\n`).join('')}`;
}
