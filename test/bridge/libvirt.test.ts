/**
 * `vgpio2mqtt qemu-args <chip> --format libvirt`: the printed `<shmem>` and
 * `<channel>` elements, put into a full domain, pass libvirt's own schema
 * check (virt-xml-validate, no daemon needed), and say the same as the
 * QEMU options `qemu-args` prints for the chip.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../bridge/cli.ts');

/** A minimal domain of the kind docs/qemu.md shows, with `devices` inside <devices>. */
function domain(devices: string): string {
  return `<domain type='kvm'>
  <name>vgpio-guest</name>
  <memory unit='MiB'>512</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
${devices.trimEnd().split('\n').map((line) => `    ${line}`).join('\n')}
  </devices>
</domain>
`;
}

describe('qemu-args --format libvirt', () => {
  let dir: string;
  let config: string;
  const cli = (...args: string[]): Promise<{ stdout: string; stderr: string }> =>
    run(process.execPath, ['--import', 'tsx', CLI, 'qemu-args', ...args, '-c', config], { env: { PATH: process.env.PATH } });
  const validate = async (xml: string): Promise<{ code: number; output: string }> => {
    const file = join(dir, 'domain.xml');
    writeFileSync(file, xml);
    try {
      const { stdout, stderr } = await run('virt-xml-validate', [file, 'domain']);
      return { code: 0, output: stdout + stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, output: e.stdout + e.stderr };
    }
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vgpio-libvirt-'));
    config = join(dir, 'c.yaml');
    writeFileSync(config, `chips:
  - { name: srv, socket: "${dir}/it's&<srv>.sock", vectors: 2, agent_socket: ${dir}/agent.sock }
  - { name: ext, mode: client, socket: /run/ivshmem.sock }
  - { name: pl, mode: plain, shm: /dev/shm/vgpio-test-pl, size: 2097152 }
  - { name: small, mode: plain }
  - { name: elsewhere, mode: plain, shm: ${dir}/pl, size: 1048576 }
`);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints ivshmem-doorbell on the server socket with the msi vectors, and the agent channel, valid for libvirt', async () => {
    const { stdout } = await cli('srv', '--format', 'libvirt');
    const socket = `${dir}/it&apos;s&amp;&lt;srv&gt;.sock`;
    assert.equal(stdout, `<shmem name='vgpio-srv'>
  <model type='ivshmem-doorbell'/>
  <server path='${socket}'/>
  <msi vectors='2' ioeventfd='on'/>
</shmem>
<channel type='unix'>
  <source mode='connect' path='${dir}/agent.sock'>
    <reconnect enabled='yes' timeout='1'/>
  </source>
  <target type='virtio' name='vgpio2mqtt'/>
</channel>
`);
    const checked = await validate(domain(stdout));
    assert.equal(checked.code, 0, checked.output);
    // The QEMU form names the same socket, vectors and port.
    const qemu = (await cli('srv')).stdout;
    assert.match(qemu, /ivshmem-doorbell,chardev=vgpio-srv,vectors=2/);
    assert.match(qemu, /virtserialport,chardev=vgpio-srv-agent,name=vgpio2mqtt/);
  });

  it('prints ivshmem-doorbell for a client-mode chip and ivshmem-plain with its size for a plain one, both valid', async () => {
    const ext = (await cli('ext', '--format=libvirt')).stdout;
    assert.match(ext, /<model type='ivshmem-doorbell'\/>\n {2}<server path='\/run\/ivshmem.sock'\/>\n {2}<msi vectors='1' ioeventfd='on'\/>/);
    assert.doesNotMatch(ext, /<channel/);
    const plain = (await cli('pl', '--format', 'libvirt')).stdout;
    // libvirt maps /dev/shm/<name>: the name is the chip's shared-memory file.
    assert.equal(plain, `<shmem name='vgpio-test-pl'>
  <model type='ivshmem-plain'/>
  <size unit='M'>2</size>
</shmem>
`);
    const checked = await validate(domain(ext + plain));
    assert.equal(checked.code, 0, checked.output);
  });

  it('docs/qemu.md shows a whole domain libvirt accepts', async () => {
    const doc = readFileSync(join(import.meta.dirname, '../../docs/qemu.md'), 'utf8');
    const xml = /```xml\n([\s\S]*?)```/.exec(doc)?.[1] ?? assert.fail('no xml block in docs/qemu.md');
    assert.match(xml, /<shmem name='vgpio-board'>/);
    const checked = await validate(xml);
    assert.equal(checked.code, 0, checked.output);
  });

  it('the schema check can fail: a broken element is refused', async () => {
    const { stdout } = await cli('srv', '--format', 'libvirt');
    const checked = await validate(domain(stdout.replace("vectors='2'", "vectors='two'")));
    assert.notEqual(checked.code, 0);
    assert.match(checked.output, /fails to validate/);
  });

  it('refuses what libvirt cannot attach, and unknown formats, with exit status 2', async () => {
    const failure = (args: string[]): Promise<{ code: number; stderr: string }> =>
      cli(...args).then(
        () => assert.fail(`accepted: ${args.join(' ')}`),
        (error: unknown) => error as { code: number; stderr: string },
      );
    const small = await failure(['small', '--format', 'libvirt']);
    assert.equal(small.code, 2);
    assert.match(small.stderr, /chip small: libvirt needs an ivshmem-plain size of at least 1 MiB; set its size to 1048576 \(got 8192\)/);
    const elsewhere = await failure(['elsewhere', '--format', 'libvirt']);
    assert.match(elsewhere.stderr, /libvirt maps ivshmem-plain memory from \/dev\/shm\/<name> only/);
    const unknown = await failure(['srv', '--format', 'xml']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--format "xml"; allowed: qemu, libvirt/);
  });
});
