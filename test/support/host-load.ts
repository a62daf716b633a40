/**
 * A busy loop on the host, beside a guest: it competes with QEMU's vCPU
 * thread and the test's own servicing for the host's cores, so timing
 * windows in the driver and the host code open wider than on an idle
 * machine. Stopped by stop(), or at the latest when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const loop of running) loop.kill('SIGKILL');
});

export interface HostLoad {
  stop: () => void;
}

export function hostLoad(): HostLoad {
  const loop = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
  running.add(loop);
  return {
    stop: () => {
      loop.kill('SIGKILL');
      running.delete(loop);
    },
  };
}
