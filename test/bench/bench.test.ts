/**
 * The benchmark code with tiny counts, so it cannot rot: one whole run
 * (both brokers, the bridge as a process, a real TCG guest) whose no-loss
 * counts must hold. No timing is asserted; the report must carry every
 * figure.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { figuresOf } from '../../bench/figures.ts';
import { GOALS } from '../../bench/goals.ts';
import { report } from '../../bench/report.ts';
import { runBench, type BenchCounts, type BenchResults } from '../../bench/run.ts';

const TINY: BenchCounts = { latency: 20, throughputSeconds: 1, window: 64, edges: 500, e2eToggles: 6, userToggles: 2, idleMs: 200, replayToggles: 6, settledMs: 400, scale: { many: 4, some: 2, idleMs: 200, settledMs: 400, floodSeconds: 1, window: 16, oneShots: 4 } };

describe('bench with tiny counts', { timeout: 600_000 }, () => {
  let results: BenchResults;

  before(async () => {
    results = await runBench({ counts: TINY, build: 'source', log: () => undefined });
  });

  it('measures every latency figure with the samples asked for, against both brokers', () => {
    assert.deepEqual(results.brokers.map((b) => b.broker), ['embedded Aedes', 'Mosquitto (default config)', 'Mosquitto (set_tcp_nodelay true)']);
    for (const b of results.brokers) {
      for (const s of [b.hop, b.command, b.settled, b.standIn, b.guestOutput]) {
        assert.equal(s.n, TINY.latency);
        assert.ok(s.p50 > 0 && s.p99 >= s.p50, `${b.broker}: ${JSON.stringify(s)}`);
      }
    }
  });

  it('accounts for every command of the throughput run in shared memory and as an edge message', () => {
    for (const b of results.brokers) {
      assert.ok(b.throughput.sent > 0);
      assert.equal(b.throughput.rejected, 0, b.broker);
      assert.equal(b.throughput.delivered, b.throughput.sent, b.broker);
      assert.equal(b.throughput.published, b.throughput.sent, `${b.broker}: an edge message for every command`);
      assert.equal(b.hopRate.received, b.hopRate.sent, b.broker);
    }
  });

  it('loses no edge either way', () => {
    for (const b of results.brokers) {
      for (const e of [b.hostToGuest, b.guestToHost]) {
        assert.deepEqual(
          { delivered: e.delivered, published: e.published, rejected: e.rejected, ringDropped: e.ringDropped },
          { delivered: TINY.edges, published: TINY.edges, rejected: 0, ringDropped: 0 },
          b.broker,
        );
      }
    }
  });

  it('measures memory and start-up with 1 and 16 chips', () => {
    assert.deepEqual(results.footprints.map((f) => f.chips), [1, 16]);
    for (const f of results.footprints) assert.ok(f.rssMiB > 10 && f.settledRssMiB > 10 && f.serverRssMiB > 10 && f.startMs > 0, JSON.stringify(f));
  });

  it('measures end to end in a real guest in doorbell mode, against the raw path, through gpiomon and the agent', () => {
    assert.equal(results.doorbellFailure, undefined);
    assert.equal(results.endToEnd.mode, 'doorbell');
    assert.equal(results.endToEnd.bridge.n, TINY.e2eToggles);
    assert.equal(results.endToEnd.raw.n, TINY.e2eToggles);
    assert.equal(results.endToEnd.standIn?.n, TINY.e2eToggles, 'the stand-in bridge with its own broker');
    assert.equal(results.endToEnd.agentBridge.n, TINY.e2eToggles, 'reported by the guest agent');
    assert.equal(results.endToEnd.agentRaw.n, TINY.e2eToggles);
    assert.equal(results.endToEnd.mosquittoPub.n, TINY.userToggles, 'timed with mosquitto_pub processes');
    assert.deepEqual(results.chipSizes.map((z) => z.lines), [32, 1024]);
    for (const z of results.chipSizes) assert.ok(z.answered > 0 && z.answered <= z.sent, JSON.stringify(z));
  });

  it('measures the same end to end in an arm64 guest', () => {
    const e = results.endToEndArm64;
    assert.deepEqual([e.arch, e.mode], ['aarch64', 'doorbell']);
    for (const s of [e.bridge, e.raw, e.standIn, e.agentBridge, e.agentRaw]) assert.equal(s?.n, TINY.e2eToggles);
  });

  it('renders every section of the report with the machine and commit', () => {
    const text = report(results);
    for (const heading of ['### 1. Command latency', '### 2. Throughput', '### 3. Guest output', '### 4. End to end', '### 5. Lost edges', '### 6. Memory', '### 7. Per-command cost', '### 8. Many chips', '### 9. Replay round trip']) {
      assert.ok(text.includes(heading), heading);
    }
    assert.match(text, /Commit `[0-9a-f]{12}/);
    assert.match(text, /QEMU emulator version/);
    assert.match(text, /^\| aarch64 \| doorbell \| gpiomon/m);
    assert.match(text, /mosquitto version/);
    assert.doesNotMatch(text, /NaN|undefined/);
    const figures = figuresOf(text);
    assert.ok(figures !== undefined, 'RESULTS.md reads the run back');
    // Goals of the parts main.ts appends (signals, cluster) are read in test/bench/results-file.unit.test.ts.
    assert.deepEqual(GOALS.filter((g) => g.measuredBy === undefined && g.read(figures) === undefined).map((g) => g.figure), [], 'every goal has its figure in the section');
  });

  it('reports a stalled flood with its rate until the stall, and lost edges measured after a restart', () => {
    const [aedes, mosquitto, ...rest] = results.brokers;
    assert.ok(aedes !== undefined && mosquitto !== undefined);
    const stalled = {
      ...mosquitto,
      throughput: { ...mosquitto.throughput, perSecond: Number.NaN, stalled: '256 of 1000 commands not acknowledged', perSecondBeforeStall: mosquitto.hopRate.perSecond / 2 },
      edgesAfterRestart: true,
    };
    const text = report({ ...results, brokers: [aedes, stalled, ...rest] });
    assert.match(text, /^\| Mosquitto \(default config\) \| \d+ \| stalled \| — \|/m);
    assert.match(text, /Mosquitto \(default config\): the flood stalled: 256 of 1000 commands not acknowledged\. Until its last acknowledgement it ran at \d+ commands\/s \(0\.50× the bare hop\)\. Its lost-edge figures \(section 5\) were taken with a new broker and bridge\./);
    assert.match(text, /^\| Mosquitto \(default config\) \(restarted after the stalled flood\) \| host → guest \|/m);
    assert.doesNotMatch(text, /NaN|undefined/);
  });
});
