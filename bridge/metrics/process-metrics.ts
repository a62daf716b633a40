/**
 * prom-client's default process and Node.js metrics (CPU, memory, file
 * descriptors, event-loop lag, handles, GC, version), registered as its
 * collectDefaultMetrics() does, with two differences: the three CPU counters
 * are defined here, and the event-loop delay is sampled once a second.
 *
 * prom-client's own CPU counters (lib/metrics/processCpuTotal.js) load
 * `@opentelemetry/api` when their file is loaded, for exemplars the bridge
 * never enables: 51 modules (7 MiB of RSS in a bare Node process, about
 * 1 MiB in an idle bridge 3 s after start). collectDefaultMetrics() loads
 * that file too, so the bridge calls the other default metrics' own files
 * and counts CPU itself, with prom-client's names and help texts.
 */
import type { Registry } from 'prom-client';
import Counter from 'prom-client/lib/counter.js';
import eventLoopLag from 'prom-client/lib/metrics/eventLoopLag.js';
import gc from 'prom-client/lib/metrics/gc.js';
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import version from 'prom-client/lib/metrics/version.js';

/**
 * The event-loop delay histogram samples once a second. prom-client's
 * default, 10 ms, is a timer that wakes an idle bridge 100 times a second
 * (more wake-ups than 100 chips' polls); the lag a scrape reports is still
 * measured then, and a stall shows in the histogram's max either way.
 */
export const EVENT_LOOP_PRECISION_MS = 1000;

const PROM_CLIENT_DEFAULTS = [
  processStartTime, osMemoryHeap, processOpenFileDescriptors, processMaxFileDescriptors, eventLoopLag,
  processResources, processHandles, processRequests, heapSizeAndUsed, heapSpacesSizeAndUsed, version, gc,
];

/** Registers the default metrics, each name prefixed with `prefix`, in `registry`. */
export function collectProcessMetrics(registry: Registry, prefix: string): void {
  collectCpu(registry, prefix);
  for (const metric of PROM_CLIENT_DEFAULTS) metric(registry, { prefix, eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
}

/**
 * process_cpu_{user,system}_seconds_total and their sum: the process's CPU
 * time since it started (prom-client's count from the metrics' creation).
 */
function collectCpu(registry: Registry, prefix: string): void {
  const registers = [registry];
  let last = { user: 0, system: 0 };
  // The user counter's collect() sets all three from one cpuUsage() call, as
  // prom-client's does; it is registered first, so a scrape, which collects
  // in registration order, sets the other two before it reads them.
  new Counter({
    name: `${prefix}process_cpu_user_seconds_total`,
    help: 'Total user CPU time spent in seconds.',
    registers,
    collect(this: Counter) {
      const now = process.cpuUsage();
      const user = (now.user - last.user) / 1e6;
      const sys = (now.system - last.system) / 1e6;
      last = now;
      this.inc(user);
      system.inc(sys);
      total.inc(user + sys);
    },
  });
  const system = new Counter({ name: `${prefix}process_cpu_system_seconds_total`, help: 'Total system CPU time spent in seconds.', registers });
  const total = new Counter({ name: `${prefix}process_cpu_seconds_total`, help: 'Total user and system CPU time spent in seconds.', registers });
}
