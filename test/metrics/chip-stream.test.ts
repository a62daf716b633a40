/**
 * A real chip's metrics come from its one metric stream (Chip.metrics):
 * the collector follows nothing else of the chip, and what a command, a
 * full queue, a guest output, a guest's ring entries and scribbles do is
 * counted. A plain-mode chip on a real shared-memory file, a fake guest,
 * scans driven by the test.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { protocol } from '../../native/index.ts';
import { Chip } from '../../bridge/chip/chip.ts';
import type { LineConfig } from '../../bridge/settings/types.ts';
import { Logger } from '../../bridge/log.ts';
import { MetricsCollector } from '../../bridge/metrics/collect.ts';
import type { ChipMetricEvents } from '../../bridge/metrics/events.ts';
import { parseCommand } from '../../bridge/mqtt/payload.ts';
import { usePlainChip } from '../support/plain-chip-file.ts';

describe("a chip's metric stream", () => {
  let chip: Chip;
  let collector: MetricsCollector;
  /** Every event on the chip's metric stream, by name. */
  let seen: Map<string, number>;
  const board = usePlainChip('vgpio-metric-stream', 'ngpio: 8, queue_limit: 1, lines: [{ line: 0, name: button }, { line: 5, name: led, direction: output }]', async (config) => {
    chip = await Chip.open(config, new Logger('error'));
    collector = new MetricsCollector();
    collector.chip(chip);
    seen = new Map();
    const emit = chip.metrics.emit.bind(chip.metrics);
    chip.metrics.emit = <K extends keyof ChipMetricEvents>(event: K, ...args: ChipMetricEvents[K]): boolean => {
      seen.set(event, (seen.get(event) ?? 0) + 1);
      return (emit as (event: K, ...args: ChipMetricEvents[K]) => boolean)(event, ...args);
    };
    chip.start();
    return chip;
  });

  const line = (name: string): LineConfig => chip.line(name) ?? assert.fail(`no line ${name}`);
  const send = (payload: string): void => {
    const parsed = parseCommand(payload, line('button'));
    assert.ok(parsed.ok, payload);
    chip.command(line('button'), parsed.value);
  };

  it('counts commands, a full queue, guest outputs, ring entries and overwritten words', () => {
    board.guest.bind();
    board.guest.enableIrq(0, { rising: true, falling: true });
    board.guest.setDirection(5, true);
    chip.scan();
    send('ON'); // raises the interrupt
    send('OFF'); // queued behind it
    send('ON'); // the queue (1) is full
    board.guest.setOutput(5, 1);
    board.guest.append(7, 0xee, 0); // an entry of an unknown kind
    board.guest.mem.store32(protocol.HDR_NGPIO, 99); // a host-owned word
    chip.scan();

    const c = collector.counters;
    assert.deepEqual(
      { interrupt: c.total('commandApplied', 'board', 'interrupt'), queued: c.total('commandApplied', 'board', 'queued') },
      { interrupt: 1, queued: 1 },
    );
    assert.equal(c.total('queueOverflow', 'board', 'button'), 1);
    assert.equal(c.total('interruptRaised', 'board'), 1);
    assert.equal(c.total('guestEvent', 'board', 'output'), 1);
    assert.equal(c.total('guestEvent', 'board', 'direction'), 1);
    assert.equal(c.total('guestEvent', 'board', 'irq_config'), 1);
    assert.equal(c.total('ringInvalid', 'board'), 1);
    assert.equal(c.total('headerOverwritten', 'board'), 1);
    assert.equal(c.total('edgePublished', 'board', 'host'), 1);
    assert.equal(c.total('edgePublished', 'board', 'guest'), 1);
    assert.equal(collector.recorded.gauges.slot('guestBound', ['board']).value, 1);
    assert.equal(collector.recorded.gauges.slot('queueDepth', ['board', 'button']).value, 1);
    assert.equal(collector.recorded.gauges.slot('lineLevel', ['board', 'led']).value, 1);
    for (const event of ['command', 'overflow', 'interrupt', 'guest-event', 'ring-invalid', 'header-overwritten', 'edge', 'state', 'guest-bound', 'queue', 'scanned']) {
      assert.ok((seen.get(event) ?? 0) > 0, `${event} on chip.metrics`);
    }
    // The monitor's own events are the line layer's, not the metrics': none of these is on it any more.
    for (const event of ['interrupt', 'guest-event', 'queue', 'scanned', 'peers', 'doorbell-sent', 'doorbell-received']) {
      assert.equal(chip.monitor.listenerCount(event as 'level'), 0, `no listener for ${event} on the monitor`);
    }
  });
});
