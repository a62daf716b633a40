/**
 * The configuration of a bridge with one plain-mode chip for a TCG guest
 * (the QEMU options `qemu-args` prints), as the guest tests write it. No
 * metrics listener and no web view: their fixed default ports would collide
 * with any other bridge on the machine.
 */
export interface PlainChipConfig {
  baseTopic: string;
  /** The embedded broker's TCP port. */
  port: number;
  /** Where the chip's shared-memory file goes. */
  dir: string;
  chip: string;
  /** YAML flow mappings, e.g. `{ line: 0, name: button }`. */
  lines: string[];
}

export function plainChipYaml(c: PlainChipConfig): string {
  return `base_topic: ${c.baseTopic}
broker: { port: ${c.port} }
metrics: { port: null }
web: { enabled: false }
homeassistant: { enabled: false }
chips:
  - name: ${c.chip}
    mode: plain
    shm: ${c.dir}/board.shm
    poll_ms: 5
    ngpio: 8
    lines:
${c.lines.map((line) => `      - ${line}\n`).join('')}`;
}
