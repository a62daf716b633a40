/**
 * vgpio-agent's command line on the host (no GPIO chips here): help and
 * version, and clear errors with a non-zero exit for bad flags, bad config
 * files and chips that do not exist, before anything is opened.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAgent } from '../../testkit/agent.ts';
import { scratchDir } from '../support/scratch-dir.ts';

const { agent } = buildAgent();

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(agent, args, { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('vgpio-agent command line', () => {
  const dir = scratchDir('vgpio-agent-cli-');

  it('prints help and version', () => {
    const help = run('--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: vgpio-agent/);
    for (const option of ['--broker', '--watch', '--config', '--edge', '--debounce', '--qos', '--keepalive']) {
      assert.ok(help.stdout.includes(option), `--help does not mention ${option}`);
    }
    // The agent's own topics: never the bridge's `.../edge`, and timestamps that name their unit.
    assert.match(help.stdout, /<base>\/<chip>\/<line>\/agent\/edge, <base>\/<chip>\/<line>\/agent\/lineinfo\n\(guest_ns: /);
    assert.match(run('--version').stdout, /^vgpio-agent \d+\.\d+\.\d+\n$/);
  });

  it('rejects bad flags with the flag, the value and what is allowed', () => {
    const cases: [string[], RegExp][] = [
      [['--bogus'], /unrecognized option.*bogus[\s\S]*Try 'vgpio-agent --help'/],
      [['--edge', 'sideways'], /--edge: invalid value 'sideways' \(rising, falling or both\)/],
      [['--qos', '2'], /--qos: invalid value '2' \(0 or 1\)/],
      [['--keepalive', '-1'], /--keepalive: invalid value '-1' \(an integer from 0 to 65535\)/],
      [['--broker', 'tcp://host:99999'], /port '99999' is not 1\.\.65535/],
      [['--broker', 'ws://host'], /scheme not supported/],
      [['--base', 'a/#'], /--base: invalid value 'a\/#'/],
      [['--watch', 'chip:0@up'], /--watch: invalid value 'up' \(rising, falling or both\)/],
      [['--watch', 'chip:'], /no line after ':'/],
      [['--password', 'x'], /--password needs --username/],
      [['extra'], /unexpected argument 'extra'/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: exit code`);
      assert.match(r.stderr, message, args.join(' '));
    }
  });

  it('reads a config file, and names the file and line of a bad entry', () => {
    const bad = join(dir, 'bad.conf');
    writeFileSync(bad, '# comment\nbroker = 127.0.0.1:1883\nedge rising\nfrobnicate 3\n');
    const r = run('--config', bad);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`${bad}:4: unknown option 'frobnicate'`));

    const value = join(dir, 'value.conf');
    writeFileSync(value, 'debounce = soon\n');
    assert.match(run('--config', value).stderr, new RegExp(`${value}:1: debounce: invalid value 'soon'`));
    assert.match(run('--config', join(dir, 'missing.conf')).stderr, /cannot read config file .*missing\.conf: No such file/);

    // A good file gets as far as looking for its chip (none exist on the host).
    const good = join(dir, 'good.conf');
    writeFileSync(good, 'broker 127.0.0.1:1883\nwatch nosuch:button0@rising/5000\n');
    const g = run('--config', good);
    assert.equal(g.code, 1);
    assert.match(g.stderr, /no GPIO chip is labelled or named 'nosuch'/);
  });

  it('says clearly when there is no chip to watch', () => {
    const r = run('--driver', 'vgpio');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no GPIO chip is bound to driver 'vgpio' \(is vgpio\.ko loaded\?\)/);
  });
});
