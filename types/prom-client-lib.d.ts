// prom-client's own files for the parts the bridge uses (bridge/metrics/metrics.ts
// says why it skips the package's index); the types are the index's.
declare module 'prom-client/lib/registry.js' {
  import { Registry } from 'prom-client';
  export default Registry;
}
declare module 'prom-client/lib/counter.js' {
  import { Counter } from 'prom-client';
  export default Counter;
}
declare module 'prom-client/lib/gauge.js' {
  import { Gauge } from 'prom-client';
  export default Gauge;
}
declare module 'prom-client/lib/histogram.js' {
  import { Histogram } from 'prom-client';
  export default Histogram;
}
// One default metric's file (lib/metrics/*.js): registers its metrics in the registry.
declare module 'prom-client/lib/metrics/*' {
  import type { Registry } from 'prom-client';
  const register: (registry: Registry, config: { prefix: string; eventLoopMonitoringPrecision?: number }) => void;
  export default register;
}
