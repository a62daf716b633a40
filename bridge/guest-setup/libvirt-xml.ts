/**
 * The libvirt domain XML that attaches a guest to a chip, the same devices
 * `qemu-args` prints as QEMU options: a `<shmem>` element (ivshmem-doorbell
 * on the chip's ivshmem server, or ivshmem-plain on its shared-memory file)
 * and, with an agent socket, a virtio-serial `<channel>` vgpio-agent opens.
 * Goes inside the domain's `<devices>`; libvirt adds the virtio-serial
 * controller itself.
 */
import { basename, dirname } from 'node:path';
import { AGENT_PORT_NAME, qemuId, type AttachConfig } from './qemu-args.ts';

/** libvirt refuses smaller ivshmem-plain regions ("shmem size must be at least 1 MiB"). */
const LIBVIRT_MIN_SHM = 1024 * 1024;
/** libvirt always maps an ivshmem-plain region from /dev/shm/<shmem name>. */
const LIBVIRT_SHM_DIR = '/dev/shm';

export class LibvirtError extends Error {}

function attr(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

function shmemXml(chip: AttachConfig): string[] {
  if (chip.mode !== 'plain') {
    // The server hands QEMU the memory and its size: libvirt needs no <size> here.
    return [
      `<shmem name='${attr(qemuId(chip.name))}'>`,
      `  <model type='ivshmem-doorbell'/>`,
      `  <server path='${attr(chip.socket ?? '')}'/>`,
      `  <msi vectors='${chip.vectors}' ioeventfd='on'/>`,
      `</shmem>`,
    ];
  }
  const shm = chip.shm ?? '';
  if (dirname(shm) !== LIBVIRT_SHM_DIR) {
    throw new LibvirtError(`chip ${chip.name}: libvirt maps ivshmem-plain memory from ${LIBVIRT_SHM_DIR}/<name> only; set its shm to a file directly in ${LIBVIRT_SHM_DIR} (got ${shm})`);
  }
  if (chip.size < LIBVIRT_MIN_SHM) {
    throw new LibvirtError(`chip ${chip.name}: libvirt needs an ivshmem-plain size of at least 1 MiB; set its size to ${LIBVIRT_MIN_SHM} (got ${chip.size})`);
  }
  return [
    `<shmem name='${attr(basename(shm))}'>`,
    `  <model type='ivshmem-plain'/>`,
    `  <size unit='M'>${chip.size / LIBVIRT_MIN_SHM}</size>`,
    `</shmem>`,
  ];
}

/** QEMU connects to the bridge's agent socket; reconnecting every second lets the guest start before the bridge. */
function channelXml(path: string): string[] {
  return [
    `<channel type='unix'>`,
    `  <source mode='connect' path='${attr(path)}'>`,
    `    <reconnect enabled='yes' timeout='1'/>`,
    `  </source>`,
    `  <target type='virtio' name='${AGENT_PORT_NAME}'/>`,
    `</channel>`,
  ];
}

/** The `<devices>` children for `chip`, one element per line group, newline-terminated. */
export function libvirtXml(chip: AttachConfig): string {
  const lines = [...shmemXml(chip), ...(chip.agentSocket === null ? [] : channelXml(chip.agentSocket))];
  return `${lines.join('\n')}\n`;
}
