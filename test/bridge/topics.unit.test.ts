/**
 * The Topics module (unit): every topic it builds parses back to what
 * built it, filters are the documented ones, topics that are not ours
 * parse to undefined, and names the configuration reserves read as they
 * always did (docs/topics.md).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isValidTopicPath, nameProblem, RESERVED_CHIP_NAMES, RESERVED_LINE_NAMES, Topics, type ParsedTopic } from '../../bridge/mqtt/topics.ts';
import { PageModel } from '../../web/model.ts';

const t = new Topics('lab/vg');

describe('Topics', () => {
  it('validates names: no wildcards, no separators, not empty', () => {
    assert.equal(nameProblem('button-1 A'), undefined);
    assert.equal(nameProblem(''), 'must not be empty');
    for (const bad of ['a+b', '#', 'a/b', 'nul\0']) assert.equal(nameProblem(bad), 'must not contain +, #, / or NUL', bad);
    assert.equal(nameProblem(' x'), 'must not start or end with white space');
    assert.equal(isValidTopicPath('lab/vgpio'), true);
    for (const bad of ['', 'a//b', '/a', 'a/', 'a/#', '+']) assert.equal(isValidTopicPath(bad), false, bad);
  });

  it('parses every topic it builds back to what built it', () => {
    const built: [string, string, ParsedTopic][] = [
      [t.bridgeState, 'lab/vg/bridge/state', { kind: 'bridge-state' }],
      [t.bridgeInfo, 'lab/vg/bridge/info', { kind: 'bridge-info' }],
      [t.bridgeEvent, 'lab/vg/bridge/event', { kind: 'bridge-event' }],
      [t.request('set'), 'lab/vg/bridge/request/set', { kind: 'request', command: 'set' }],
      [t.response('chips'), 'lab/vg/bridge/response/chips', { kind: 'response', command: 'chips' }],
      [t.availability('board'), 'lab/vg/board/availability', { kind: 'availability', chip: 'board' }],
      [t.agent('board'), 'lab/vg/board/agent', { kind: 'agent', chip: 'board' }],
      [t.state('board', 'led'), 'lab/vg/board/led', { kind: 'state', chip: 'board', line: 'led' }],
      [t.set('board', 'led'), 'lab/vg/board/led/set', { kind: 'set', chip: 'board', line: 'led' }],
      [t.edge('board', 'led'), 'lab/vg/board/led/edge', { kind: 'edge', chip: 'board', line: 'led' }],
      [t.received('board', '3'), 'lab/vg/board/3/received', { kind: 'received', chip: 'board', line: '3' }],
      [t.config('board', 'led'), 'lab/vg/board/led/config', { kind: 'config', chip: 'board', line: 'led' }],
      [t.line('agent-edge', 'board', 'led'), 'lab/vg/board/led/agent/edge', { kind: 'agent-edge', chip: 'board', line: 'led' }],
      [t.line('agent-lineinfo', 'board', 'led'), 'lab/vg/board/led/agent/lineinfo', { kind: 'agent-lineinfo', chip: 'board', line: 'led' }],
    ];
    for (const [topic, expected, parsed] of built) {
      assert.equal(topic, expected);
      assert.deepEqual(t.parse(topic), parsed, topic);
    }
  });

  it('builds the filters the bridge, the CLI, capture and the page subscribe to', () => {
    assert.equal(t.all, 'lab/vg/#');
    assert.equal(t.requestFilter, 'lab/vg/bridge/request/#');
    assert.equal(t.setFilter, 'lab/vg/+/+/set');
    assert.equal(t.chipFilter('board'), 'lab/vg/board/#');
    assert.equal(t.lineFilter('edge'), 'lab/vg/+/+/edge');
    assert.equal(t.lineFilter('state', 'board'), 'lab/vg/board/+');
    assert.equal(t.lineFilter('received', undefined, 'led'), 'lab/vg/+/led/received');
    assert.equal(t.lineFilter('config', 'board', 'led'), 'lab/vg/board/led/config');
  });

  it('parses topics that are not its own to undefined', () => {
    for (const foreign of [
      'other/board/led/set',
      'lab/vgx/board/led/set',
      'lab/vg',
      'lab/vg/board',
      'lab/vg/board/led/extra/set',
      'lab/vg/board/led/agent',
      'lab/vg/board/led/agent/other',
      'lab/vg/board/led/set/more',
      'lab/vg/bridge/other',
      'lab/vg/bridge/state/more',
      'lab/vg/bridge/request',
      'lab/vg/bridge/led/edge',
    ]) {
      assert.equal(t.parse(foreign), undefined, foreign);
    }
  });

  it('reads reserved names as before: bridge/<x>/set is a command for the reserved chip, a reply is never a command', () => {
    assert.deepEqual(RESERVED_CHIP_NAMES, ['bridge']);
    assert.deepEqual(t.parse('lab/vg/bridge/x/set'), { kind: 'set', chip: 'bridge', line: 'x' }, 'refused by the bridge as an unknown chip');
    assert.deepEqual(t.parse('lab/vg/bridge/response/set'), { kind: 'response', command: 'set' });
    assert.deepEqual(t.parse('lab/vg/bridge/request/a/b'), { kind: 'request', command: 'a/b' });
    // A line may not be named after a leaf (config/formats.ts refuses it): such a topic reads as the leaf.
    assert.ok(RESERVED_LINE_NAMES.includes('availability') && RESERVED_LINE_NAMES.includes('agent'));
    assert.deepEqual(t.parse('lab/vg/board/availability'), { kind: 'availability', chip: 'board' });
    assert.deepEqual(t.parse('lab/vg/board/agent'), { kind: 'agent', chip: 'board' });
  });

  it('is the page model\'s parser: what it parses is what the model follows', () => {
    const model = new PageModel({ base: 'lab/vg', now: () => 1000 });
    model.handle(t.availability('board'), 'online');
    model.handle(t.agent('board'), 'online');
    model.handle(t.config('board', 'led'), JSON.stringify({ line: 1, direction: 'output', trigger: 'none' }));
    model.handle(t.edge('board', 'led'), JSON.stringify({ edge: 'rising', source: 'guest', seq: 1, ts_ms: 900 }));
    model.handle(t.bridgeState, JSON.stringify({ state: 'online' }));
    model.handle('lab/vg/bridge/led/edge', JSON.stringify({ edge: 'rising', source: 'guest', seq: 2, ts_ms: 950 }));
    model.handle('other/board/led/edge', JSON.stringify({ edge: 'rising', source: 'guest', seq: 3, ts_ms: 960 }));
    assert.equal(model.filter, t.all);
    assert.equal(model.bridgeState, 'online');
    assert.deepEqual([...model.chips.keys()], ['board'], 'no chip from a topic that is not ours');
    const chip = model.chips.get('board') ?? assert.fail();
    assert.equal(chip.availability, 'online');
    assert.equal(chip.agent, 'online');
    const led = chip.lines.get('led') ?? assert.fail();
    assert.equal(led.direction, 'output');
    assert.equal(led.level, 1);
    assert.equal(led.counts.guest, 1);
  });
});
