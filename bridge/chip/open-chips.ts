/**
 * Opens every chip of a configuration at once: the ivshmem servers the
 * server-mode chips need are started in one process first, then all chips
 * join and map their memory concurrently (a server-mode join waits about
 * 50 ms for its handshake to settle, so one after the other 256 chips took
 * 13 s). The log gets one line for all the chips; each chip's own lines
 * (mode, memory, QEMU options) are at debug level, and in `bridge/info`.
 */
import type { ChipConfig } from '../settings/types.ts';
import type { Logger } from '../log.ts';
import { qemuArgs } from '../guest-setup/qemu-args.ts';
import { Chip } from './chip.ts';
import { startChipServers } from './transport.ts';

/** "3 server", "2 plain": how many chips of each mode. */
function countBy(items: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].map(([item, n]) => `${n} ${item}`).join(', ');
}

function summary(chips: readonly Chip[]): string {
  const configs = chips.map((chip) => chip.config);
  const lines = configs.reduce((sum, c) => sum + c.ngpio, 0);
  const memory = countBy(chips.map((chip) => (chip.reattached ? 're-attached to' : 'initialised')));
  const only = configs.length === 1 ? configs[0] : undefined;
  const attach = only === undefined ? 'QEMU options by `vgpio2mqtt qemu-args <chip>`, in bridge/info and at debug level' : `attach QEMU with: ${qemuArgs(only).join(' ')}`;
  return `${configs.length} chip(s) (${countBy(configs.map((c) => `${c.mode} mode`))}), ${lines} lines, ${memory} shared memory; ${attach}`;
}

/**
 * Opens `configs`, in their order; `opened` hears about each chip as it
 * opens (so the caller can close it if another fails). Throws the first
 * failure in configuration order once every open has settled.
 */
export async function openChips(configs: readonly ChipConfig[], log: Logger, opened: (chip: Chip) => void): Promise<void> {
  const release = await startChipServers(configs, log);
  let results;
  try {
    results = await Promise.allSettled(configs.map((config) => Chip.open(config, log.child(`chip ${config.name}`))));
  } finally {
    release();
  }
  const chips: Chip[] = [];
  for (const result of results) if (result.status === 'fulfilled') chips.push(result.value);
  for (const chip of chips) {
    opened(chip);
    const c = chip.config;
    log.debug(`chip ${c.name}: ${c.mode} mode, ${c.ngpio} lines, ${chip.reattached ? 're-attached to' : 'initialised'} shared memory${c.shm === null ? '' : ` ${c.shm}`}`);
    log.debug(`chip ${c.name}: attach QEMU with: ${qemuArgs(c).join(' ')}`);
  }
  const failed = results.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  if (chips.length > 0) log.info(summary(chips));
}
