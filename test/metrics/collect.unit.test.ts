/**
 * Unit test of the collector and the exporter reading its slots: a chip,
 * the MQTT link, the broker and the extensions are stand-in emitters, the
 * metrics are scraped through prom-client's registry as /metrics does.
 * What is scraped equals what was recorded, series are declared at zero
 * before the first event, and the latency histograms bucket exactly as
 * prom-client's own `observe` does.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import Histogram from 'prom-client/lib/histogram.js';
import Registry from 'prom-client/lib/registry.js';
import type { EmbeddedBroker } from '../../broker/embedded.ts';
import type { Chip } from '../../bridge/chip/chip.ts';
import type { LineConfig } from '../../bridge/settings/types.ts';
import type { MqttLink } from '../../bridge/mqtt/link.ts';
import { MetricsCollector, type ExtensionSignals } from '../../bridge/metrics/collect.ts';
import type { ChipMetrics } from '../../bridge/metrics/events.ts';
import { BridgeMetrics } from '../../bridge/metrics/metrics.ts';
import { Recorded } from '../../bridge/metrics/recorded.ts';
import { LATENCY_BUCKETS } from '../../bridge/metrics/slots.ts';

const line = (index: number, name: string, configured: boolean): LineConfig => ({ line: index, name, configured }) as LineConfig;
const BUTTON = line(0, 'button', true);
const LED = line(1, 'led', true);
const UNCONFIGURED = line(2, '2', false);
const LINES = [BUTTON, LED, UNCONFIGURED];

/** A collector following stand-ins for every part, with the exporter on. */
function setUp() {
  const stream: ChipMetrics = new EventEmitter();
  const chip = { config: { name: 'board', lines: LINES }, metrics: stream };
  const signals = new EventEmitter<ExtensionSignals>();
  const link = new EventEmitter();
  const aedes = new EventEmitter();
  const broker = { aedes, connectedClients: 0 };
  const collector = new MetricsCollector();
  const metrics = new BridgeMetrics('test', collector.recorded);
  collector.chip(chip as unknown as Chip);
  collector.link(link as unknown as MqttLink);
  collector.broker(broker as unknown as EmbeddedBroker);
  collector.extensions(signals);
  return { stream, signals, link, aedes, broker, collector, metrics };
}

/** Every sample line of a scrape, `series -> value`. */
async function scrape(registry: { metrics(): Promise<string> }): Promise<Map<string, string>> {
  const samples = new Map<string, string>();
  for (const text of (await registry.metrics()).split('\n')) {
    if (text === '' || text.startsWith('#')) continue;
    const at = text.lastIndexOf(' ');
    samples.set(text.slice(0, at), text.slice(at + 1));
  }
  return samples;
}

describe('metrics collector', () => {
  it('declares the series of a chip at zero before its first event', async () => {
    const { metrics, collector } = setUp();
    const s = await scrape(metrics.prometheus);
    for (const series of [
      'vgpio2mqtt_commands_received_total{chip="board"}',
      'vgpio2mqtt_commands_applied_total{chip="board",result="queued"}',
      'vgpio2mqtt_guest_events_total{chip="board",kind="input_edge"}',
      'vgpio2mqtt_edges_published_total{chip="board",source="guest"}',
      'vgpio2mqtt_event_ring_dropped_total{chip="board"}',
      'vgpio2mqtt_header_overwrites_total{chip="board"}',
      'vgpio2mqtt_guest_driver_bound{chip="board"}',
      'vgpio2mqtt_guest_peers_connected{chip="board"}',
      'vgpio2mqtt_line_queue_depth{chip="board",line="led"}',
      'vgpio2mqtt_line_queue_overflows_total{chip="board",line="button"}',
      'vgpio2mqtt_guest_received_edges_total{chip="board",line="led"}',
      'vgpio2mqtt_mqtt_connected',
      'vgpio2mqtt_mqtt_clients_connected',
    ]) {
      assert.equal(s.get(series), '0', series);
    }
    const names = [...s.keys()];
    // Unconfigured lines, levels, refusals, messages and latencies appear with their first event.
    assert.ok(!names.some((n) => n.includes('line="2"')), 'no series for an unconfigured line');
    for (const prefix of ['vgpio2mqtt_line_level', 'vgpio2mqtt_commands_rejected_total', 'vgpio2mqtt_mqtt_messages_total', 'vgpio2mqtt_requests_total', 'vgpio2mqtt_command_to_doorbell_seconds', 'vgpio2mqtt_doorbell_to_publish_seconds']) {
      assert.ok(!names.some((n) => n.startsWith(prefix)), `${prefix} before its first event`);
    }
    assert.deepEqual(collector.counters.snapshot(), {});
  });

  it('holds no series for a line before its first event unless declared', () => {
    const { stream, collector } = setUp();
    const { counters, gauges } = collector.recorded;
    const lines = (series: readonly { labels: readonly string[] }[]): (string | undefined)[] => series.map(({ labels }) => labels[1]);
    assert.deepEqual(lines(counters.series('queueOverflow')), ['button', 'led'], 'the configured lines, declared at 0');
    assert.deepEqual(lines(gauges.series('lineLevel')), [], 'levels: none before the first state');
    stream.emit('overflow', UNCONFIGURED.line);
    stream.emit('state', LED.line, 1);
    stream.emit('state', UNCONFIGURED.line, 1);
    assert.deepEqual(lines(counters.series('queueOverflow')), ['button', 'led', '2'], 'the unconfigured line, at its first event');
    assert.deepEqual(lines(gauges.series('lineLevel')), ['led'], 'levels: configured lines only');
  });

  it('scrapes what was recorded, and the totals say the same', async () => {
    const { stream, signals, link, aedes, broker, collector, metrics } = setUp();
    for (let i = 0; i < 5; i++) signals.emit('command-received', 'board');
    for (let i = 0; i < 3; i++) stream.emit('command', 'interrupt', process.hrtime.bigint());
    stream.emit('command', 'queued', process.hrtime.bigint());
    signals.emit('command-rejected', 'board', 'bad_payload');
    signals.emit('command-rejected', '', 'bad_topic');
    signals.emit('request', 'health', 'ok');
    for (let i = 0; i < 4; i++) stream.emit('doorbell-sent');
    stream.emit('interrupt');
    stream.emit('guest-event', 'output');
    stream.emit('ring-dropped', 7);
    stream.emit('ring-invalid', 2);
    stream.emit('ring-resync');
    stream.emit('header-overwritten', 3);
    stream.emit('peers', 1);
    stream.emit('guest-bound', true);
    stream.emit('queue', 1, 2);
    stream.emit('queue', 2, 9);
    stream.emit('overflow', LED.line);
    stream.emit('overflow', UNCONFIGURED.line);
    stream.emit('received', LED.line);
    stream.emit('edge', 'guest');
    stream.emit('state', LED.line, 1);
    link.emit('connect');
    link.emit('traffic', 'in');
    link.emit('traffic', 'out');
    link.emit('traffic', 'out');
    broker.connectedClients = 2;
    aedes.emit('client');

    const expected: Record<string, string> = {
      'vgpio2mqtt_commands_received_total{chip="board"}': '5',
      'vgpio2mqtt_commands_applied_total{chip="board",result="interrupt"}': '3',
      'vgpio2mqtt_commands_applied_total{chip="board",result="queued"}': '1',
      'vgpio2mqtt_commands_applied_total{chip="board",result="applied"}': '0',
      'vgpio2mqtt_commands_rejected_total{chip="board",reason="bad_payload"}': '1',
      'vgpio2mqtt_commands_rejected_total{chip="",reason="bad_topic"}': '1',
      'vgpio2mqtt_requests_total{command="health",status="ok"}': '1',
      'vgpio2mqtt_doorbells_rung_total{chip="board"}': '4',
      'vgpio2mqtt_guest_interrupts_raised_total{chip="board"}': '1',
      'vgpio2mqtt_guest_events_total{chip="board",kind="output"}': '1',
      'vgpio2mqtt_event_ring_dropped_total{chip="board"}': '7',
      'vgpio2mqtt_event_ring_invalid_total{chip="board"}': '2',
      'vgpio2mqtt_event_ring_resyncs_total{chip="board"}': '1',
      'vgpio2mqtt_header_overwrites_total{chip="board"}': '3',
      'vgpio2mqtt_guest_peers_connected{chip="board"}': '1',
      'vgpio2mqtt_guest_driver_bound{chip="board"}': '1',
      'vgpio2mqtt_line_queue_depth{chip="board",line="led"}': '2',
      'vgpio2mqtt_line_queue_overflows_total{chip="board",line="led"}': '1',
      'vgpio2mqtt_line_queue_overflows_total{chip="board",line="2"}': '1',
      'vgpio2mqtt_guest_received_edges_total{chip="board",line="led"}': '1',
      'vgpio2mqtt_edges_published_total{chip="board",source="guest"}': '1',
      'vgpio2mqtt_line_level{chip="board",line="led"}': '1',
      'vgpio2mqtt_mqtt_connected': '1',
      'vgpio2mqtt_mqtt_messages_total{direction="in"}': '1',
      'vgpio2mqtt_mqtt_messages_total{direction="out"}': '2',
      'vgpio2mqtt_mqtt_clients_connected': '2',
      'vgpio2mqtt_command_to_doorbell_seconds_count{chip="board"}': '3',
    };
    // Twice: reading the slots at scrape time must not count anything again.
    for (const registry of [metrics.prometheus, metrics.prometheus, metrics.openMetrics]) {
      const s = await scrape(registry);
      for (const [series, value] of Object.entries(expected)) assert.equal(s.get(series), value, series);
      // Levels only for configured lines (a replayed state is not on the metric stream).
      assert.equal(s.get('vgpio2mqtt_line_queue_depth{chip="board",line="2"}'), undefined);
      assert.equal(s.get('vgpio2mqtt_line_level{chip="board",line="button"}'), undefined);
    }

    const c = collector.counters;
    assert.equal(c.total('commandApplied', 'board'), 4);
    assert.equal(c.total('commandRejected'), 2);
    assert.equal(c.total('queueOverflow', 'board'), 2);
    assert.equal(c.total('mqttMessage', 'out'), 2);
    assert.deepEqual(c.snapshot(), {
      'commandReceived/board': 5,
      'commandApplied/board/interrupt': 3,
      'commandApplied/board/queued': 1,
      'doorbellRung/board': 4,
      'interruptRaised/board': 1,
      'guestEvent/board/output': 1,
      'ringResync/board': 1,
      'ringInvalid/board': 2,
      'ringDropped/board': 7,
      'headerOverwritten/board': 3,
      'edgePublished/board/guest': 1,
      'queueOverflow/board/led': 1,
      'guestReceived/board/led': 1,
      'queueOverflow/board/2': 1,
      'mqttMessage/in': 1,
      'mqttMessage/out': 2,
      'commandRejected/board/bad_payload': 1,
      'commandRejected//bad_topic': 1,
      'request/health/ok': 1,
    });
  });

  it('buckets latencies exactly as prom-client observes them', async () => {
    const recorded = new Recorded();
    const metrics = new BridgeMetrics('test', recorded);
    const board = { commandToDoorbell: recorded.latencies.create('commandToDoorbell', ['board']) };
    const reference = new Registry();
    const histogram = new Histogram({ name: 'vgpio2mqtt_command_to_doorbell_seconds', help: 'reference', labelNames: ['chip'], buckets: [...LATENCY_BUCKETS], registers: [reference] });
    // Below the first bound, on bounds, between them, above the last one.
    const values = [0, 0.00001, ...LATENCY_BUCKETS, 0.0003, 0.003, 0.3, 3, 7, 120];
    for (const value of values) {
      board.commandToDoorbell.observe(value);
      histogram.observe({ chip: 'board' }, value);
    }
    const ours = await scrape(metrics.prometheus);
    const theirs = await scrape(reference);
    assert.equal(theirs.size, LATENCY_BUCKETS.length + 3);
    for (const [series, value] of theirs) assert.equal(ours.get(series), value, series);
    assert.equal(ours.get('vgpio2mqtt_command_to_doorbell_seconds_count{chip="board"}'), String(values.length));
    assert.equal([...ours.keys()].filter((n) => n.startsWith('vgpio2mqtt_doorbell_to_publish_seconds')).length, 0, 'no series before an observation');
  });
});
