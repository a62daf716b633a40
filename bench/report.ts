/** Renders one benchmark run as its Markdown section, the latest run of bench/RESULTS.md (bench/results-file.ts). */
import { scaleReport } from './scale.ts';
import type { EndToEnd } from './guest-e2e.ts';
import { EDGE_WINDOW, type EdgeCount } from './host-paths.ts';
import { LATENCY_ROUNDS, type BenchResults } from './run.ts';
import { ms, ratio, type Summary } from './samples.ts';
import { replaySection } from './replay.ts';

const pair = (s: Summary): string => `${ms(s.p50)} / ${ms(s.p99)}`;
const ratios = (s: Summary, base: Summary): string => `${ratio(s.p50, base.p50)} / ${ratio(s.p99, base.p99)}`;

function edgeRow(broker: string, direction: string, e: EdgeCount, afterRestart: boolean): string {
  const lost = e.sent - e.delivered;
  return `| ${broker}${afterRestart ? ' (restarted after the stalled flood)' : ''} | ${direction} | ${e.sent} | ${e.delivered} | ${e.published} | ${e.rejected} | ${e.ringDropped} | ${lost === 0 && e.published === e.sent ? '**0**' : `**${lost} (published ${e.sent - e.published} short)**`} |`;
}

/**
 * The end-to-end table's rows, two per guest: reported by gpiomon and by
 * the agent. The stand-in bridge is timed on the gpiomon path only.
 */
export function endToEndRows(guests: EndToEnd[]): string[] {
  const standIn = (g: EndToEnd): [string, string, string] =>
    g.standIn === undefined ? ['—', '—', '—'] : [pair(g.standIn), ratios(g.standIn, g.raw), ratios(g.bridge, g.standIn)];
  return [
    '| guest | mode | reported by | raw (addon → guest) | bridge (`.../set` → guest) | ratio | stand-in (MQTT → its own process → guest) | stand-in to raw | bridge to stand-in |',
    '|---|---|---|---|---|---|---|---|---|',
    ...guests.flatMap((g) => [
      `| ${g.arch} | ${g.mode} | gpiomon, serial console | ${pair(g.raw)} | ${pair(g.bridge)} | ${ratios(g.bridge, g.raw)} | ${standIn(g).join(' | ')} |`,
      `| ${g.arch} | ${g.mode} | vgpio-agent, MQTT | ${pair(g.agentRaw)} | ${pair(g.agentBridge)} | ${ratios(g.agentBridge, g.agentRaw)} | — | — | — |`,
    ]),
  ];
}

export function report(r: BenchResults): string {
  const m = r.machine;
  const c = r.counts;
  const e = r.endToEnd;
  const out: string[] = [
    `## Run of ${m.date}`,
    '',
    `Commit \`${m.commit}\`; ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; Linux ${m.kernel}; Node.js ${m.node}; ${m.qemu}; ${m.mosquitto}. The whole run took ${r.seconds.toFixed(0)} s; load average at its end ${m.load}.`,
    '',
    `Latencies are p50 / p99 in milliseconds; ratios are the figure over the bare-hop baseline measured in the same run and broker. The latencies of sections 1 and 3 and their baselines are taken in ${LATENCY_ROUNDS} rounds, each with 1/${LATENCY_ROUNDS} of every figure's samples in turn, so that a slow spell of the machine (a VM: it has some of several seconds) weighs on a figure and its baseline alike.`,
    'Mosquitto runs as Debian ships it and with `set_tcp_nodelay true`: by default it leaves Nagle\'s algorithm on, so the second of two small packets it forwards back to back (a line\'s edge, then its state) waits for the subscriber\'s delayed ACK, about 40 ms.',
    'The bridge runs as its own process (the compiled CLI, as `npm start`); the MQTT clients and the fake guest (a real ivshmem peer that acknowledges like the driver) run in the benchmark process.',
    '',
    `### 1. Command latency, host side (${c.latency} samples)`,
    '',
    '`.../set` published → the fake guest\'s doorbell eventfd fires; baseline: publish → a subscriber receives it (bare MQTT hop, QoS 1). Back to back: each command is published as soon as the last one rang (as the bare hop publishes as soon as the last message arrived), so it can wait behind the edge and state the bridge publishes for the last one, in the broker and in the bridge. Settled: each command is published once the last one\'s edge message has reached a subscriber, a lone command\'s latency.',
    '',
    'Second baseline: a stand-in bridge (bench/stand-in.ts), a separate process of a few lines of mqtt.js that subscribes to a `.../set` topic and rings the same guest\'s doorbell through the addon for each message, with no parsing, line policy or publications. Like the bridge, and unlike the bare hop, each command crosses into another process; the last column compares the bridge with it.',
    '',
    '| broker | bare hop | `.../set` → doorbell, back to back | ratio | `.../set` → doorbell, settled | ratio | stand-in `.../set` → doorbell | back to back, ratio to the stand-in |',
    '|---|---|---|---|---|---|---|---|',
    ...r.brokers.map((b) => `| ${b.broker} | ${pair(b.hop)} | ${pair(b.command)} | ${ratios(b.command, b.hop)} | ${pair(b.settled)} | ${ratios(b.settled, b.hop)} | ${pair(b.standIn)} | ${ratios(b.command, b.standIn)} |`),
    '',
    `### 2. Throughput (${c.throughputSeconds} s, at most ${c.window} in flight)`,
    '',
    'Line commands round-robin over 30 lines, each one a change; accounted = raised interrupts the fake guest acknowledged in shared memory; edges = the commands\' edge messages a subscriber received. The time runs until the last of both, so a bridge that fell behind on its publications cannot look faster than it is. Baseline: bare-hop messages received per second with the same window.',
    '',
    '| broker | bare hop msg/s | commands/s | ratio | sent | accounted | edges | refused |',
    '|---|---|---|---|---|---|---|---|',
    ...r.brokers.map((b) => `| ${b.broker} | ${b.hopRate.perSecond.toFixed(0)} | ${b.throughput.stalled === undefined ? b.throughput.perSecond.toFixed(0) : 'stalled'} | ${b.throughput.stalled === undefined ? ratio(b.throughput.perSecond, b.hopRate.perSecond) : '—'} | ${b.throughput.sent} | ${b.throughput.delivered} | ${b.throughput.published} | ${b.throughput.rejected} |`),
    ...r.brokers.flatMap((b) => {
      const { stalled, perSecondBeforeStall } = b.throughput;
      if (stalled === undefined) return [];
      const before = perSecondBeforeStall === undefined ? '' : ` Until its last acknowledgement it ran at ${perSecondBeforeStall.toFixed(0)} commands/s (${ratio(perSecondBeforeStall, b.hopRate.perSecond)} the bare hop).`;
      return ['', `${b.broker}: the flood stalled: ${stalled}.${before} Its lost-edge figures (section 5) were taken with a new broker and bridge.`];
    }),
    '',
    `### 3. Guest output → MQTT (${c.latency} samples)`,
    '',
    'The fake guest drives an output, appends to the event ring and rings → the retained state message arrives at a subscriber.',
    '',
    '| broker | bare hop | guest output → state | ratio |',
    '|---|---|---|---|',
    ...r.brokers.map((b) => `| ${b.broker} | ${pair(b.hop)} | ${pair(b.guestOutput)} | ${ratios(b.guestOutput, b.hop)} |`),
    '',
    `### 4. End to end in a real TCG guest (${e.bridge.n} toggles per path, ${e.mode} mode; and an arm64 guest)`,
    '',
    '`.../set` → bridge → vgpio.ko → the guest sees the edge → it comes back to the host, two ways: `gpiomon` printing it on the serial console, and `vgpio-agent` publishing it over virtio-serial (piped to the bridge\'s embedded broker), received as its MQTT edge message. Raw baseline, same boot: a second vgpio device whose region the benchmark owns, the host writing `in`, raising the line and ringing the guest through the addon (no MQTT on the way in), watched the same two ways. Each path has its own line; bridge and raw are sampled alternately. In doorbell mode a third device is driven the raw way by a stand-in bridge, a separate process of a few lines (bench/stand-in-device.ts) with an embedded Aedes broker of its own, subscribed through Aedes\' API as the bridge is, that gets each toggle as an MQTT message (QoS 1) from a client in the benchmark: stand-in to raw is what the MQTT hop into another process costs in this guest, bridge to stand-in what the bridge\'s own work adds. The three are sampled in turn.',
    '',
    ...(r.doorbellFailure === undefined ? [] : [`**Doorbell mode failed in this run** (${r.doorbellFailure}); these figures are polling mode (driver poll_ms=5, bridge chip in plain mode polling every 5 ms).`, '']),
    'The arm64 guest is Debian\'s arm64 6.1 kernel on `qemu-system-aarch64 -M virt,gic-version=3 -cpu max,pauth-impdef=on` under TCG: every guest instruction is translated, so its figures say what an emulated board costs, not what the bridge does; the ratio to the raw path in the same boot is what compares.',
    '',
    ...endToEndRows([e, r.endToEndArm64]),
    '',
    `As a user would time it (${e.mosquittoPub.n} toggles): a \`mosquitto_pub -t .../set\` process started on the host → \`gpiomon\` in the guest prints the edge on the serial console, the process's own start-up and connection included: p50 ${ms(e.mosquittoPub.p50)} ms, p90 ${ms(e.mosquittoPub.p90)} ms.`,
    '',
    `### 5. Lost edges (${c.edges} toggles each way)`,
    '',
    `Host → guest: \`.../set\` toggles of one line published back to back (at most ${EDGE_WINDOW} ahead of the guest); delivered = raised interrupts the fake guest acknowledged, published = edge messages. Guest → host: the fake guest toggles an output as fast as the event ring has room; delivered = edge messages with \`"source":"guest"\`.`,
    '',
    '| broker | direction | sent | delivered | published | refused | ring drops | lost |',
    '|---|---|---|---|---|---|---|---|',
    ...r.brokers.flatMap((b) => [edgeRow(b.broker, 'host → guest', b.hostToGuest, b.edgesAfterRestart), edgeRow(b.broker, 'guest → host', b.guestToHost, b.edgesAfterRestart)]),
    '',
    `### 6. Memory and start-up (embedded broker, no guest, RSS after ${c.idleMs / 1000} s idle)`,
    '',
    'The ivshmem server of the server-mode chips is a process of its own, started by the bridge and shared by all its chips (it outlives the bridge for its guests); its RSS is a column of its own, not in the bridge\'s.',
    '',
    `A second reading ${c.settledMs / 1000} s after the start shows whether V8's memory reducer has given back the heap start-up grew (it runs about 8 s after a full collection, when start-up ran one).`,
    '',
    `| chips × lines | start → \`bridge/state\` online | RSS idle | RSS ${c.settledMs / 1000} s after start | ivshmem server process RSS idle |`,
    '|---|---|---|---|---|',
    ...r.footprints.map((f) => `| ${f.chips} × 32 | ${f.startMs.toFixed(0)} ms | ${f.rssMiB.toFixed(1)} MiB | ${f.settledRssMiB.toFixed(1)} MiB | ${f.serverRssMiB.toFixed(1)} MiB |`),
    '',
    `### 7. Per-command cost against the chip's size (${c.throughputSeconds} s each, at most ${c.window} in flight)`,
    '',
    '`.../set` TOGGLEs of a chip\'s last line refused for lack of a guest (parsed, looked up, refused, answered on `bridge/event`), embedded Aedes, plain-mode chip polled once a minute; ratio: against the 32-line chip.',
    '',
    '| lines | sent | answered | refused/s | ratio |',
    '|---|---|---|---|---|',
    ...r.chipSizes.map((z) => `| ${z.lines} | ${z.sent} | ${z.answered} | ${z.perSecond.toFixed(0)} | ${ratio(z.perSecond, r.chipSizes[0]?.perSecond ?? 0)} |`),
    '',
    scaleReport(r.scale),
    ...replaySection(r.replay, c.replayToggles),
  ];
  return out.join('\n');
}
