/**
 * The clustered-broker rows of the benchmark: a 3-node RabbitMQ 3.10
 * cluster on loopback (testkit/rabbitmq.ts), the bridge on node 2 and
 * the commands published on node 1. Commands/s through the cluster against
 * a bare hop between the same two nodes; then node 2 is killed (kill -9)
 * and the time until the bridge's chip is online again through node 3 is
 * measured from a subscriber on node 3. `node --import tsx bench/cluster.ts`
 * (npm run bench:cluster) runs it alone and prints its section.
 */
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { RabbitCluster } from '../testkit/rabbitmq.ts';
import { hopRate } from './bare-hop.ts';
import type { BridgeBuild } from './bridge-process.ts';
import { commandThroughput } from './host-paths.ts';
import { BASE, CHIP, HostRig } from './host-setup.ts';

export interface ClusterFigures {
  seconds: number;
  window: number;
  hopPerSecond: number;
  /** The same hop to a persistent session (clean: false), whose queue is durable and mirrored on every node, as the bridge's is. */
  persistentHopPerSecond: number;
  commandsPerSecond: number;
  /** The same with the MQTT plugin's prefetch (unacknowledged messages per subscriber, 10 by default) at PREFETCH. */
  prefetchCommandsPerSecond: number;
  /** Set when the flood stalled. */
  stalled: string | undefined;
  /** Node killed -> the chip's availability online again, seen on another node. */
  failoverMs: number;
}

/** The prefetch of the second flood: the window of commands in flight. */
const PREFETCH = 256;

export async function clusterBench(build: BridgeBuild, seconds: number, window: number, log: (line: string) => void): Promise<ClusterFigures> {
  log('clustered broker: starting 3 RabbitMQ nodes');
  const cluster = await RabbitCluster.start(3);
  const [one, two, three] = cluster.nodes;
  if (one === undefined || two === undefined || three === undefined) throw new Error('a 3-node cluster has 3 nodes');
  try {
    log('clustered broker: bare hop node 1 -> node 2');
    const hop = await hopRate(one.url, seconds, window, two.url);
    log('clustered broker: bare hop node 1 -> node 2, to a persistent session');
    const persistentHop = await hopRate(one.url, seconds, window, two.url, { clean: false, clientId: `bench-hop-${process.pid}` });
    const bridgeNodes = [two.url, three.url, one.url];
    log('clustered broker: commands through node 1 to the bridge on node 2, prefetch 10 (the default)');
    const first = await HostRig.start({ build, cluster: { bridge: bridgeNodes, commands: one.url } });
    const flood = await commandThroughput(first, seconds, window).finally(() => first.close());
    // For connections made from now on (the plugin reads it at each connection).
    for (const node of cluster.nodes) await cluster.ctl(node, 'eval', `application:set_env(rabbitmq_mqtt, prefetch, ${PREFETCH}).`);
    log(`clustered broker: the same with prefetch ${PREFETCH}`);
    const rig = await HostRig.start({ build, cluster: { bridge: bridgeNodes, commands: one.url } });
    try {
      const prefetched = await commandThroughput(rig, seconds, window);
      const watcher = await mqtt.connectAsync(three.url, { reconnectPeriod: 0 });
      const availability = `${BASE}/${CHIP}/availability`;
      await watcher.subscribeAsync(availability, { qos: 1 });
      let killedAt = 0;
      const online = new Promise<number>((resolve) => {
        watcher.on('message', (_topic, payload) => {
          if (killedAt > 0 && payload.toString() === 'online') resolve(Date.now() - killedAt);
        });
      });
      log('clustered broker: killing node 2');
      killedAt = Date.now();
      await cluster.kill(two);
      const failoverMs = await Promise.race([online, new Promise<number>((_, reject) => setTimeout(() => { reject(new Error('the chip was not online again within 30 s')); }, 30_000))]);
      await watcher.endAsync();
      return { seconds, window, hopPerSecond: hop.perSecond, persistentHopPerSecond: persistentHop.perSecond, commandsPerSecond: flood.perSecond, prefetchCommandsPerSecond: prefetched.perSecond, stalled: flood.stalled ?? prefetched.stalled, failoverMs };
    } finally {
      await rig.close();
    }
  } finally {
    await cluster.close();
  }
}

/** The figures as a RESULTS.md section. */
export function clusterReport(f: ClusterFigures): string {
  const ratio = f.commandsPerSecond / f.hopPerSecond;
  const commands = f.stalled === undefined ? Math.round(f.commandsPerSecond).toLocaleString('en-US') : `stalled: ${f.stalled}`;
  return `
### Clustered broker (bench/cluster.ts)

RabbitMQ 3.10 (Debian 12), 3 nodes on loopback, MQTT 3.1.1, session queues mirrored on every node; the bridge on node 2 (its list: nodes 2, 3, 1), commands published on node 1; ${f.seconds} s, at most ${f.window} in flight.

| figure | value |
|---|---|
| bare hop node 1 → node 2, messages/s | ${Math.round(f.hopPerSecond).toLocaleString('en-US')} |
| commands/s, publisher on node 1, bridge on node 2, \`mqtt.prefetch\` 10 (default) | ${commands} |
| commands/s vs bare hop, prefetch 10 | ${Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—'} |
| commands/s, \`mqtt.prefetch = ${PREFETCH}\` | ${Math.round(f.prefetchCommandsPerSecond).toLocaleString('en-US')} |
| commands/s vs bare hop, prefetch ${PREFETCH} | ${(f.prefetchCommandsPerSecond / f.hopPerSecond).toFixed(2)}× |
| bare hop node 1 → node 2 to a persistent session (durable queue mirrored on 3 nodes, as the bridge's), messages/s | ${Math.round(f.persistentHopPerSecond).toLocaleString('en-US')} |
| commands/s vs that hop | ${(f.commandsPerSecond / f.persistentHopPerSecond).toFixed(2)}× |
| failover: node 2 killed → chip online again through node 3, ms | ${f.failoverMs} |
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const figures = await clusterBench('source', 10, 256, (line) => process.stderr.write(`bench: ${line}\n`));
  process.stdout.write(clusterReport(figures));
}
