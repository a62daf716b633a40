/**
 * The host-side figures, each measured on a HostRig: command latency
 * (.../set published -> the fake guest's doorbell fires), command
 * throughput with every command accounted for in shared memory, guest
 * output -> retained state received, and lost edges both ways.
 */
import { until } from '../testkit/vgpio-host.ts';
import { BUTTON, CHIP, LED, SPARE_LINES, topics, type HostRig } from './host-setup.ts';
import { msSince } from './samples.ts';

const payload = (level: 0 | 1): string => (level === 1 ? 'ON' : 'OFF');

function setTopic(line: number | string): string {
  return topics.set(CHIP, String(line));
}

/**
 * `publish(i)` -> the guest's doorbell fires, one at a time, `count` times;
 * milliseconds from the call to the ring.
 */
export async function timeToDoorbell(rig: HostRig, count: number, publish: (i: number) => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const rang = new Promise<bigint>((resolve) => (rig.onRing = resolve));
    const start = process.hrtime.bigint();
    const published = publish(i);
    const at = await Promise.race([rang, new Promise<never>((_, reject) => setTimeout(() => { reject(new Error(`no doorbell within 5 s for command ${i}`)); }, 5000))]);
    samples.push(Number(at - start) / 1e6);
    await published;
  }
  rig.onRing = undefined;
  return samples;
}

/** `.../set` published -> the guest's doorbell fires; one command at a time, toggling BUTTON. */
export async function commandLatency(rig: HostRig, count: number): Promise<number[]> {
  let level = rig.guest.input(BUTTON);
  return timeToDoorbell(rig, count, () => {
    level = level === 1 ? 0 : 1;
    return rig.commander.publishAsync(setTopic('button'), payload(level), { qos: 1 }).then(() => undefined);
  });
}

/**
 * As commandLatency, but each command is published only once the previous
 * one has settled: its edge message has reached the probe, so the bridge
 * and the broker are done with the edge and state it published. This is a
 * lone command's latency; commandLatency's back-to-back commands also wait
 * behind the last one's publications in the broker and the bridge.
 */
export async function settledCommandLatency(rig: HostRig, count: number): Promise<number[]> {
  let level = rig.guest.input(BUTTON);
  return timeToDoorbell(rig, count, async () => {
    level = level === 1 ? 0 : 1;
    const from = rig.probe.mark;
    await rig.commander.publishAsync(setTopic('button'), payload(level), { qos: 1 });
    await rig.probe.waitFor(topics.edge(CHIP, 'button'), () => true, 5000, from);
  });
}

export interface Throughput {
  sent: number;
  delivered: number;
  /** Edge messages of these commands a subscriber received. */
  published: number;
  rejected: number;
  perSecond: number;
  /** Set when the flood stopped making progress for STALL_MS: what was outstanding. perSecond is then NaN. */
  stalled?: string;
  /** With `stalled`: commands acknowledged per second from the start to the last acknowledgement. */
  perSecondBeforeStall?: number;
}

/** A flood that acknowledges nothing for this long has stalled (a healthy one acknowledges thousands a second). */
export const STALL_MS = 30_000;

/**
 * Commands per second over `seconds`, round-robin over the spare lines,
 * each one a change (so each must end as one acknowledged interrupt and one
 * edge message), with at most `window` commands published but not yet
 * acknowledged by the guest. The time runs until the last command's
 * interrupt was acknowledged and its edge received: a bridge that fell
 * behind on its publications would otherwise look faster than it is.
 */
export async function commandThroughput(rig: HostRig, seconds: number, window: number): Promise<Throughput> {
  const levels = new Map(SPARE_LINES.map((line) => [line, rig.guest.input(line)]));
  const deliveredBefore = rig.deliveredTotal;
  const eventsFrom = rig.probe.mark;
  let wake: (() => void) | undefined;
  const start = process.hrtime.bigint();
  let lastProgress = start;
  rig.onRing = (at) => {
    lastProgress = at;
    wake?.();
  };
  let sent = 0;
  const delivered = (): number => rig.deliveredTotal - deliveredBefore;
  const published = (): number => rig.probe.on(topics.lineFilter('edge', CHIP), eventsFrom).length;
  const outstanding = (): string => `${sent - delivered()} of ${sent} commands not acknowledged in shared memory and ${sent - published()} edges not received, ${rig.rejected(eventsFrom)} refused, after ${STALL_MS / 1000} s without progress`;
  const stalled = (): Throughput => {
    rig.onRing = undefined;
    const beforeStall = delivered() / (Number(lastProgress - start) / 1e9);
    return { sent, delivered: delivered(), published: published(), rejected: rig.rejected(eventsFrom), perSecond: Number.NaN, stalled: outstanding(), perSecondBeforeStall: beforeStall };
  };
  while (msSince(start) < seconds * 1000) {
    if (sent - delivered() >= window) {
      const progress = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => { resolve(false); }, STALL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      wake = undefined;
      if (!progress) return stalled();
      continue;
    }
    const line = SPARE_LINES[sent % SPARE_LINES.length] ?? 2;
    const level = levels.get(line) === 1 ? 0 : 1;
    levels.set(line, level);
    rig.commander.publish(setTopic(line), payload(level), { qos: 1 });
    sent += 1;
    if (sent % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  try {
    await until(
      `all ${sent} commands acknowledged in shared memory and their edges received`,
      () => (delivered() >= sent && published() >= sent) || rig.rejected(eventsFrom) > 0,
      STALL_MS,
    );
  } catch {
    return stalled();
  }
  const elapsed = msSince(start) / 1000;
  rig.onRing = undefined;
  return { sent, delivered: delivered(), published: published(), rejected: rig.rejected(eventsFrom), perSecond: Math.min(delivered(), published()) / elapsed };
}

/** The fake guest drives LED and rings -> the state topic arrives at a subscriber. */
export async function guestOutputLatency(rig: HostRig, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    rig.ledLevel = rig.ledLevel === 1 ? 0 : 1;
    const want = payload(rig.ledLevel);
    const from = rig.probe.mark;
    const start = process.hrtime.bigint();
    rig.guest.setOutput(LED, rig.ledLevel);
    rig.guest.ringHost();
    await rig.probe.waitFor(topics.state(CHIP, 'led'), (p) => p === want, 5000, from);
    samples.push(msSince(start));
  }
  return samples;
}

export interface EdgeCount {
  sent: number;
  /** Host -> guest: raised interrupts the guest acknowledged; guest -> host: edge messages with source guest. */
  delivered: number;
  /** Host -> guest: edge messages the bridge published for the line. */
  published: number;
  rejected: number;
  ringDropped: number;
}

/**
 * How far host -> guest toggles may run ahead of the guest's
 * acknowledgements: below the line's queue_limit (1024), and below
 * Mosquitto's default max_queued_messages (1000), beyond which it drops
 * QoS 1 messages queued for a client (a first run with 1024 lost 28 there).
 */
export const EDGE_WINDOW = 512;

/**
 * `count` toggles of BUTTON published back to back, at most EDGE_WINDOW
 * ahead of the guest's acknowledgements.
 */
export async function hostToGuestEdges(rig: HostRig, count: number): Promise<EdgeCount> {
  let level = rig.guest.input(BUTTON);
  const before = rig.delivered[BUTTON] ?? 0;
  const from = rig.probe.mark;
  const delivered = (): number => (rig.delivered[BUTTON] ?? 0) - before;
  let wake: (() => void) | undefined;
  rig.onRing = () => wake?.();
  for (let sent = 0; sent < count; ) {
    if (sent - delivered() >= EDGE_WINDOW) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      continue;
    }
    level = level === 1 ? 0 : 1;
    rig.commander.publish(setTopic('button'), payload(level), { qos: 1 });
    sent += 1;
    if (sent % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const published = (): number => rig.probe.on(topics.edge(CHIP, 'button'), from).length;
  await until(`${count} edges delivered (${delivered()}) and published (${published()})`, () => (delivered() >= count && published() >= count) || rig.rejected(from) > 0, 30_000).catch(() => undefined);
  rig.onRing = undefined;
  return { sent: count, delivered: delivered(), published: published(), rejected: rig.rejected(from), ringDropped: 0 };
}

/** `count` output toggles of LED by the fake guest, as fast as the event ring has room (rung every 64 entries). */
export async function guestToHostEdges(rig: HostRig, count: number): Promise<EdgeCount> {
  const from = rig.probe.mark;
  const droppedBefore = rig.ringDropped;
  for (let sent = 0; sent < count; ) {
    if (rig.ringFree === 0) {
      rig.guest.ringHost();
      await new Promise((resolve) => setImmediate(resolve));
      continue;
    }
    rig.ledLevel = rig.ledLevel === 1 ? 0 : 1;
    rig.guest.setOutput(LED, rig.ledLevel);
    sent += 1;
    if (sent % 64 === 0) {
      rig.guest.ringHost();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  rig.guest.ringHost();
  const edges = (): number => rig.probe.on(topics.edge(CHIP, 'led'), from).filter((m) => m.payload.includes('"source":"guest"')).length;
  await until(`${count} guest edges published (${edges()} so far)`, () => edges() >= count, 30_000).catch(() => undefined);
  return { sent: count, delivered: edges(), published: edges(), rejected: 0, ringDropped: rig.ringDropped - droppedBefore };
}
