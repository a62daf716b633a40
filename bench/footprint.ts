/**
 * Memory and start-up: the bridge process with its embedded broker and
 * `chips` server-mode chips of 32 lines each, no guest attached. Start-up
 * is spawn -> retained `bridge/state` online; RSS is read after it has sat
 * idle for `idleMs`, the bridge's and, on its own, that of the ivshmem
 * server process the bridge started for its server-mode chips (one for all
 * of them).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../testkit/ports.ts';
import { rssBytes } from '../testkit/rss.ts';
import { pidFile } from '../bridge/chip/server-process.ts';
import { BridgeProcess, type BridgeBuild } from './bridge-process.ts';
import type { BenchCounts } from './run.ts';

export interface Footprint {
  chips: number;
  startMs: number;
  rssMiB: number;
  /** The bridge's RSS at `settledMs` after start-up. */
  settledRssMiB: number;
  /** The ivshmem server process's RSS. */
  serverRssMiB: number;
}

export async function footprint(chips: number, counts: Pick<BenchCounts, 'idleMs' | 'settledMs'>, build: BridgeBuild): Promise<Footprint> {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-bench-rss-'));
  try {
    const port = await freePort();
    const list = Array.from({ length: chips }, (_, i) => `  - { name: c${i}, ngpio: 32, socket: ${dir}/c${i}.sock, shm: ${dir}/c${i}.shm }`).join('\n');
    const config = `base_topic: rss\nlog_level: warn\nbroker: { port: ${port} }\nmetrics: { port: ${await freePort()} }\nweb: { port: 0 }\nchips:\n${list}\n`;
    const bridge = await BridgeProcess.start({ config, dir, url: `mqtt://127.0.0.1:${port}`, baseTopic: 'rss', build });
    try {
      await new Promise((resolve) => setTimeout(resolve, counts.idleMs));
      const rssMiB = bridge.rssMiB();
      const server = Number(readFileSync(pidFile(`${dir}/c0.sock`), 'utf8'));
      const serverRssMiB = rssBytes(server) / (1 << 20);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, counts.settledMs - bridge.startMs - counts.idleMs)));
      return { chips, startMs: bridge.startMs, rssMiB, settledRssMiB: bridge.rssMiB(), serverRssMiB };
    } finally {
      await bridge.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
