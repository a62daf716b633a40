/**
 * `import { connect } from 'vgpio2mqtt/client'` as a user's test project
 * does: the package's exports map leads to dist/client/index.js (built by
 * `npm run build:ts`), and its declarations type-check in a project of its
 * own (strict, NodeNext, no access to our sources).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(import.meta.dirname, '../..');
const BUILT = 'dist/client/index.js: run `npm run build:ts` first';

describe('the package export vgpio2mqtt/client', () => {
  it('ships the client but not the tests, the test kit, the bench or the demo', () => {
    const pack = spawnSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(pack.status, 0, pack.stderr);
    const [{ files }] = JSON.parse(pack.stdout) as [{ files: { path: string }[] }];
    const tops = new Set(files.map((f) => f.path.split('/')[0]));
    for (const top of ['client', 'bridge', 'native']) assert.ok(tops.has(top), `${top}/ missing from the package`);
    for (const top of ['test', 'testkit', 'bench', 'demo']) assert.ok(!tops.has(top), `${top}/ is in the package`);
    // A tarball is installed without a build (npm runs no prepare for it): the compiled client and bridge must be in it.
    const paths = new Set(files.map((f) => f.path));
    for (const built of ['dist/client/index.js', 'dist/client/index.d.ts', 'dist/bridge/cli.js', 'dist/bridge/controller.js']) assert.ok(paths.has(built), `${built} missing from the package (${BUILT})`);
  });

  it('resolves to the built client, which exports connect', async () => {
    const url = import.meta.resolve('vgpio2mqtt/client');
    assert.equal(fileURLToPath(url), join(ROOT, 'dist/client/index.js'));
    assert.ok(existsSync(fileURLToPath(url)), BUILT);
    const client = (await import(url)) as { connect?: unknown; VgpioError?: unknown };
    assert.equal(typeof client.connect, 'function');
    assert.equal(typeof client.VgpioError, 'function');
  });

  it('type-checks a user\'s project against its declarations', { timeout: 120_000 }, () => {
    assert.ok(existsSync(join(ROOT, 'dist/client/index.d.ts')), BUILT);
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-client-consumer-'));
    try {
      mkdirSync(join(dir, 'node_modules/@types'), { recursive: true });
      symlinkSync(ROOT, join(dir, 'node_modules/vgpio2mqtt'));
      symlinkSync(join(ROOT, 'node_modules/@types/node'), join(dir, 'node_modules/@types/node'));
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: ['node'] }, files: ['consumer.ts'] }),
      );
      writeFileSync(
        join(dir, 'consumer.ts'),
        `import { connect, VgpioError, type Edge, type Measurement } from 'vgpio2mqtt/client';
const vgpio = await connect({ url: 'mqtt://127.0.0.1:1883', baseTopic: 'vgpio2mqtt' });
const led = vgpio.chip('vgpio0').line('led');
const edge: Edge = await led.waitFor({ edge: 'rising', source: 'guest' }, { timeoutMs: 200 });
const m: Measurement = await led.measure({ windowMs: 1000 });
// @ts-expect-error periodMs may be null: the declarations carry the real types, not any
const period: number = m.periodMs;
await using edges = await led.edges();
for await (const e of edges) console.log(e.edge, edge.tsMs, period, e instanceof VgpioError);
await vgpio.close();
`,
      );
      const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { encoding: 'utf8' });
      assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
