/**
 * The QEMU options that attach a guest to a chip: an ivshmem-doorbell
 * device on the chip's ivshmem server (server and client mode), or an
 * ivshmem-plain device on its shared-memory file (plain mode).
 */
import type { ChipConfig } from './config/types.ts';

/** QEMU option values separate properties with commas; a literal comma is written twice. */
function qemuValue(text: string): string {
  return text.replace(/,/g, ',,');
}

/** A QEMU object id: a letter, then letters, digits, `-`, `.` or `_`. */
export function qemuId(chip: string): string {
  return `vgpio-${chip.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

export function qemuArgs(chip: ChipConfig): string[] {
  const id = qemuId(chip.name);
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

/** Quotes a word for a POSIX shell when it needs it. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
