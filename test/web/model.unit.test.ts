/**
 * The page's model under Node (no browser): the trace buffer's memory
 * bound and order, and the documented topics turned into line state and
 * trace events: edges with `ts_ms` and `source`, `received`, agent edges
 * placed through the guest clock's offset, refused commands, pending and
 * queued from bridge/response/chips; the bridge's recent edges put in front
 * of the live ones, without those seen live twice; how to attach a guest
 * from bridge/info.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PageModel } from '../../web/model.ts';
import { Kind, TraceBuffer } from '../../web/trace-buffer.ts';
import { chipVcd } from '../../web/vcd-export.ts';
import { forEachColumn } from '../../web/columns.ts';

describe('TraceBuffer', () => {
  it('grows while busy, never past its capacity, and drops the oldest events', () => {
    const trace = new TraceBuffer(1024);
    for (let i = 0; i < 5000; i += 1) trace.push(i, (i % 2) as 0 | 1, Kind.HOST_EDGE);
    assert.equal(trace.length, 1024);
    assert.equal(trace.overwritten, 5000 - 1024);
    assert.equal(trace.bytes, 1024 * 10);
    assert.equal(trace.oldest, 5000 - 1024);
    assert.equal(trace.time(trace.length - 1), 4999);
    assert.equal(trace.indexAt(4500.5), 4500 - (5000 - 1024));
    assert.equal(trace.levelAt(4501), 1);
    assert.equal(trace.levelAt(10), undefined, 'before the oldest kept event');
  });

  it('keeps time order: a late event is placed at the newest time seen', () => {
    const trace = new TraceBuffer(4);
    trace.push(10, 1, Kind.GUEST_EDGE);
    trace.push(5, 0, Kind.GUEST_EDGE);
    assert.equal(trace.time(1), 10);
    assert.throws(() => new TraceBuffer(1000), /power of two/);
  });
});

describe('forEachColumn', () => {
  it('visits each pixel column holding events once, with all of its events, and jumps over busy columns', () => {
    const trace = new TraceBuffer(1 << 16);
    // 10 events in column 2, one in column 5, 50,000 in column 7, one before and one after the window.
    trace.push(-1, 1, Kind.HOST_EDGE);
    for (let i = 0; i < 10; i += 1) trace.push(2 + i / 20, (i % 2) as 0 | 1, Kind.HOST_EDGE);
    trace.push(5.5, 1, Kind.GUEST_EDGE);
    for (let i = 0; i < 50_000; i += 1) trace.push(7 + i / 60_000, (i % 2) as 0 | 1, Kind.GUEST_EDGE);
    trace.push(20, 0, Kind.HOST_EDGE);
    const seen: [number, number][] = [];
    let calls = 0;
    forEachColumn(trace, 0, 1, 10, (column, first, last) => {
      calls += 1;
      seen.push([column, last - first + 1]);
    });
    assert.deepEqual(seen, [[2, 10], [5, 1], [7, 50_000]]);
    assert.equal(calls, 3);
  });
});

describe('PageModel', () => {
  const now = 1_000_000;
  const model = (): PageModel => new PageModel({ base: 'v', capacity: 64, now: () => now });

  it('builds chips and lines from bridge/info, config and state, then follows edges with their source and ts_ms', () => {
    const m = model();
    m.handle('v/bridge/info', JSON.stringify({ chips: [{ name: 'c', lines: [{ line: 0, name: 'btn', direction: 'input' }, { line: 3, name: 'led', direction: 'output' }] }] }));
    m.handle('v/c/availability', 'online');
    m.handle('v/c/led/config', JSON.stringify({ line: 3, name: 'led', direction: 'output', expected_direction: 'output', trigger: 'none' }));
    m.handle('v/c/led', 'OFF');
    m.handle('v/c/led/edge', JSON.stringify({ edge: 'rising', source: 'guest', seq: 7, ts_ms: now + 5, guest_ns: 2_000_000_000 }));
    m.handle('v/c/btn/edge', JSON.stringify({ edge: 'rising', source: 'host', seq: 1, ts_ms: now + 6 }));
    const chip = m.chips.get('c') ?? assert.fail('no chip');
    assert.equal(chip.availability, 'online');
    assert.deepEqual(m.linesOf(chip).map((l) => [l.number, l.name, l.expected]), [[0, 'btn', 'input'], [3, 'led', 'output']]);
    const led = chip.lines.get('led') ?? assert.fail('no led');
    assert.equal(led.direction, 'output');
    assert.equal(led.level, 1);
    assert.deepEqual([led.trace.length, led.trace.kind(1), led.trace.time(1)], [2, Kind.GUEST_EDGE, now + 5]);
    assert.equal(chip.lines.get('btn')?.trace.kind(0), Kind.HOST_EDGE);
  });

  it('marks received confirmations and places agent edges through the guest clock offset', () => {
    const m = model();
    m.handle('v/c/led/edge', JSON.stringify({ edge: 'rising', source: 'guest', seq: 1, ts_ms: 5000, guest_ns: 1_000_000_000 }));
    m.handle('v/c/btn/received', JSON.stringify({ edge: 'rising', guest_ns: 1_500_000_000, ts_ms: 5600 }));
    m.handle('v/c/btn/agent/edge', JSON.stringify({ edge: 'rising', seq: 1, request_seq: 1, guest_ns: 1_400_000_000, clock: 'monotonic', line: 0 }));
    const btn = m.chips.get('c')?.lines.get('btn') ?? assert.fail('no btn');
    assert.deepEqual(btn.counts, { host: 0, guest: 0, received: 1, agent: 1 });
    assert.equal(btn.trace.kind(0), Kind.RECEIVED);
    assert.equal(btn.trace.time(0), 5600);
    // Offset 5000 ms - 1000 ms = 4000 ms: guest 1400 ms is host 5400 ms, before the received mark, so it is kept at 5600 (time order).
    assert.equal(btn.trace.kind(1), Kind.AGENT_EDGE);
    assert.equal(btn.trace.time(1), 5600);
    assert.equal(m.clock.toHost(2_000_000_000, 0), 6000);
  });

  it('keeps refused commands from bridge/event, answers its own requests, and reads pending/queued from the chips response', () => {
    const m = model();
    let answer: unknown;
    m.expect('t1', (r) => (answer = r));
    m.handle('v/bridge/response/chips', JSON.stringify({ status: 'ok', transaction: 't1', data: [{ name: 'c', lines: [{ line: 2, name: 'r', expected: 'input', pending: true, queued: 3, level: 1, state: 'CLOSED' }] }] }));
    m.handle('v/bridge/event', JSON.stringify({ type: 'command_rejected', topic: 'v/c/r/set', reason: 'bad_payload', message: 'unknown payload "MAYBE"' }));
    const r = m.chips.get('c')?.lines.get('r') ?? assert.fail('no line');
    assert.deepEqual([r.pending, r.queued, r.payloads.on], [true, 3, 'CLOSED']);
    m.handle('v/c/r', 'CLOSED');
    assert.equal(r.level, 1, 'the learnt ON payload');
    assert.deepEqual((answer as { transaction: string }).transaction, 't1');
    assert.match(m.events[0]?.text ?? '', /command_rejected v\/c\/r\/set: unknown payload "MAYBE"/);
  });

  it('ignores topics that are not the documented ones and payloads that are not JSON objects', () => {
    const m = model();
    m.handle('other/c/x', 'ON');
    m.handle('v/c/x/edge', 'not json');
    m.handle('v/c/x/edge', '[1]');
    m.handle('v/c/x/set', 'ON');
    assert.equal(m.chips.get('c')?.lines.get('x')?.trace.length ?? 0, 0);
  });

  it('exports a window as VCD with the levels at its start and the changes inside it', () => {
    const m = model();
    for (const [t, edge] of [[100, 'rising'], [200, 'falling'], [300, 'rising']] as const) m.handle('v/c/a/edge', JSON.stringify({ edge, source: 'host', seq: t, ts_ms: t }));
    const chip = m.chips.get('c') ?? assert.fail('no chip');
    const vcd = chipVcd('c', m.linesOf(chip), { startMs: 150, endMs: 250 }, 1000);
    assert.match(vcd, /\$dumpvars\n1!\n\$end/);
    assert.match(vcd, /#50000000\n0!\n#100000000\n$/);
    assert.doesNotMatch(vcd, /#150000000/, 'the change after the window is left out');
  });

  it('puts the bridge\'s recent edges before the live ones and leaves out those that also came live', () => {
    const m = model();
    m.handle('v/c/led', 'OFF');
    m.collectLive();
    const live = { edge: 'rising', source: 'guest', seq: 9, ts_ms: now - 100 };
    m.handle('v/c/led/edge', JSON.stringify(live));
    m.loadTrace({
      chip: 'c',
      edges: [
        { line: 'led', edge: 'rising', source: 'guest', seq: 7, ts_ms: now - 3000 },
        { line: 'led', edge: 'falling', source: 'guest', seq: 8, ts_ms: now - 2000 },
        { line: 'led', ...live },
      ],
    });
    const chip = m.chips.get('c') ?? assert.fail('no chip');
    const led = chip.lines.get('led') ?? assert.fail('no led');
    assert.equal(chip.historyLoaded, true);
    assert.equal(led.counts.guest, 3, 'seq 9 once');
    const events = Array.from({ length: led.trace.length }, (_, i) => [led.trace.time(i), led.trace.level(i), led.trace.kind(i)]);
    assert.deepEqual(events, [
      [now - 3000, 1, Kind.GUEST_EDGE],
      [now - 2000, 0, Kind.GUEST_EDGE],
      [now, 0, Kind.STATE],
      [now, 1, Kind.GUEST_EDGE],
    ]);
    m.loadTrace({ chip: 'c', edges: [{ line: 'led', edge: 'rising', source: 'guest', seq: 1, ts_ms: now - 5000 }] });
    assert.equal(led.counts.guest, 3, 'a second answer is ignored');
  });

  it('reads how to attach a guest, and the availability until the retained topic says it, from bridge/info', () => {
    const m = model();
    m.handle('v/bridge/info', JSON.stringify({ chips: [{ name: 'c', online: false, attach: { qemu_args: ['-device', 'ivshmem-plain,memdev=x'], command: 'qemu-system-x86_64 <your guest\'s options> -device ivshmem-plain,memdev=x' } }] }));
    const chip = m.chips.get('c') ?? assert.fail('no chip');
    assert.equal(chip.availability, 'offline');
    assert.deepEqual(chip.attach?.qemuArgs, ['-device', 'ivshmem-plain,memdev=x']);
    m.handle('v/c/availability', 'online');
    m.handle('v/bridge/info', JSON.stringify({ chips: [{ name: 'c', online: false }] }));
    assert.equal(chip.availability, 'online', 'the availability topic wins');
  });
});
