/**
 * The kernel's scripts/checkpatch.pl, which no headers package carries:
 * extracted once from Debian's linux-source-6.1 package (with the data
 * files it reads) into .cache/checkpatch, fetched with apt-get download.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir } from '../../testkit/kernel.ts';

const PACKAGE = 'linux-source-6.1';
const FILES = ['checkpatch.pl', 'spelling.txt', 'const_structs.checkpatch'];

export const checkpatchDir = join(cacheDir, 'checkpatch');

/** Path of checkpatch.pl, fetching and extracting it on first use. */
export function checkpatchScript(): string {
  const script = join(checkpatchDir, 'checkpatch.pl');
  if (FILES.every((f) => existsSync(join(checkpatchDir, f)))) return script;

  const tmp = mkdtempSync(join(tmpdir(), 'vgpio-checkpatch-'));
  try {
    // apt-get download drops privileges to _apt when it can: give it a folder it may write.
    chmodSync(tmp, 0o777);
    execFileSync('apt-get', ['download', '-qq', PACKAGE], { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] });
    const deb = readdirSync(tmp).find((f) => f.startsWith(`${PACKAGE}_`) && f.endsWith('.deb'));
    if (deb === undefined) throw new Error(`apt-get download ${PACKAGE} produced no .deb`);
    const members = FILES.map((f) => `${PACKAGE}/scripts/${f}`).join(' ');
    // The .deb holds usr/src/linux-source-6.1.tar.xz; take only the three files out of it.
    execFileSync(
      'sh',
      ['-c', `dpkg-deb --fsys-tarfile '${deb}' | tar -xO ./usr/src/${PACKAGE}.tar.xz | tar -xJ ${members}`],
      { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const partial = `${checkpatchDir}.partial`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    for (const f of FILES) renameSync(join(tmp, PACKAGE, 'scripts', f), join(partial, f));
    rmSync(checkpatchDir, { recursive: true, force: true });
    renameSync(partial, checkpatchDir);
  } catch (error) {
    throw new Error(`cannot fetch checkpatch.pl from Debian's ${PACKAGE} (apt-get download; is the package list up to date?)`, {
      cause: error,
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return script;
}
