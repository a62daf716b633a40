/**
 * The QEMU options that attach a guest to a chip: an ivshmem-doorbell
 * device on the chip's ivshmem server (server and client mode), or an
 * ivshmem-plain device on its shared-memory file (plain mode); and, when
 * the chip has an agent socket, the virtio-serial port vgpio-agent talks
 * MQTT over.
 */
import type { ChipConfig } from '../settings/types.ts';

/** QEMU option values separate properties with commas; a literal comma is written twice. */
function qemuValue(text: string): string {
  return text.replace(/,/g, ',,');
}

/** A QEMU object id: a letter, then letters, digits, `-`, `.` or `_`. */
export function qemuId(chip: string): string {
  return `vgpio-${chip.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

/** The virtio-serial port name vgpio-agent opens by default (/dev/virtio-ports/vgpio2mqtt). */
export const AGENT_PORT_NAME = 'vgpio2mqtt';

function ivshmemArgs(chip: AttachConfig, id: string): string[] {
  if (chip.mode === 'plain') {
    return [
      '-object', `memory-backend-file,id=${id},share=on,mem-path=${qemuValue(chip.shm ?? '')},size=${chip.size}`,
      '-device', `ivshmem-plain,memdev=${id}`,
    ];
  }
  return [
    '-chardev', `socket,id=${id},path=${qemuValue(chip.socket ?? '')}`,
    '-device', `ivshmem-doorbell,chardev=${id},vectors=${chip.vectors}`,
  ];
}

/**
 * QEMU connects to the bridge's agent socket as a client; `reconnect=1`
 * (QEMU 9.2 and later also take `reconnect-ms=1000`) lets QEMU start
 * before the bridge and come back after a bridge restart or a dropped
 * connection.
 */
function agentArgs(path: string, id: string): string[] {
  const chardev = `${id}-agent`;
  return [
    '-chardev', `socket,id=${chardev},path=${qemuValue(path)},reconnect=1`,
    '-device', 'virtio-serial-pci',
    '-device', `virtserialport,chardev=${chardev},name=${AGENT_PORT_NAME}`,
  ];
}

/** What qemuArgs reads of a chip (a configured chip, or one described by a running bridge's bridge/info). */
export type AttachConfig = Pick<ChipConfig, 'name' | 'mode' | 'shm' | 'size' | 'socket' | 'vectors' | 'agentSocket'>;

export function qemuArgs(chip: AttachConfig): string[] {
  const id = qemuId(chip.name);
  return [...ivshmemArgs(chip, id), ...(chip.agentSocket === null ? [] : agentArgs(chip.agentSocket, id))];
}

/** Quotes a word for a POSIX shell when it needs it. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A whole QEMU command line to copy, with a placeholder for the guest's own options (disk, kernel, memory). */
export function qemuCommand(chip: AttachConfig): string {
  return `qemu-system-x86_64 <your guest's options> ${qemuArgs(chip).map(shellWord).join(' ')}`;
}
