/**
 * Memory and start-up: the bridge process with its embedded broker and
 * `chips` server-mode chips of 32 lines each, no guest attached. Start-up
 * is spawn -> retained `bridge/state` online; RSS is read after it has sat
 * idle for `idleMs`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/support/ports.ts';
import { BridgeProcess, type BridgeBuild } from './bridge-process.ts';

export interface Footprint {
  chips: number;
  startMs: number;
  rssMiB: number;
}

export async function footprint(chips: number, idleMs: number, build: BridgeBuild): Promise<Footprint> {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-bench-rss-'));
  try {
    const port = await freePort();
    const list = Array.from({ length: chips }, (_, i) => `  - { name: c${i}, ngpio: 32, socket: ${dir}/c${i}.sock, shm: ${dir}/c${i}.shm }`).join('\n');
    const config = `base_topic: rss\nlog_level: warn\nbroker: { port: ${port} }\nmetrics: { port: ${await freePort()} }\nweb: { port: 0 }\nchips:\n${list}\n`;
    const bridge = await BridgeProcess.start({ config, dir, url: `mqtt://127.0.0.1:${port}`, baseTopic: 'rss', build });
    try {
      await new Promise((resolve) => setTimeout(resolve, idleMs));
      return { chips, startMs: bridge.startMs, rssMiB: bridge.rssMiB() };
    } finally {
      await bridge.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
