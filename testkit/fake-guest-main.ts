/**
 * A bridge with its embedded broker and a fake guest, as one process, for
 * tests written in other languages (python/tests/). Run with
 * `node --import tsx testkit/fake-guest-main.ts`; it prints one JSON
 * line `{"url":...,"username":...,"password":...,"base_topic":...}` on
 * stdout once the chip is online, then obeys one command per stdin line and
 * answers each with `ok` (or `error <why>`):
 *
 *   out <line> <0|1>            the guest drives an output line
 *   blink <line> <half_ms> <n>  n level changes of an output, half_ms apart
 *   unbind | bind               the guest driver goes away / comes back
 *
 * Chip `board` (server mode): 0 button and 2 reset (inputs with both edge
 * interrupts enabled, acknowledged on each ring like the driver does), 1 led
 * (an output the guest drives), 3 unnamed input. Chip `spare` never gets a
 * guest, so it stays offline. The broker asks for a login. It exits when
 * stdin closes or on SIGTERM, removing its temporary folder.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { IvshmemClient } from '../native/index.ts';
import { loadSettings } from '../bridge/settings/load.ts';
import { Controller } from '../bridge/controller.ts';
import { Logger } from '../bridge/log.ts';
import { FakeGuest } from './fake-guest.ts';
import { freePort } from './ports.ts';

const BASE = 'vgpio2mqtt';
const USER = 'tester';
const PASSWORD = 'fake-guest-secret';
const LED = 1;

const dir = mkdtempSync('/dev/shm/vgpio-fake-guest-main-');
const port = await freePort();
const config = join(dir, 'config.yaml');
const chip = (name: string): Record<string, unknown> => ({ name, socket: join(dir, `${name}.sock`), shm: join(dir, `${name}.shm`) });
writeFileSync(
  config,
  stringify({
    base_topic: BASE,
    broker: { port, users: [{ username: USER, password: PASSWORD }] },
    metrics: { port: 0 },
    web: { enabled: false },
    homeassistant: { enabled: false },
    chips: [
      {
        ...chip('board'),
        poll_ms: 20,
        lines: [
          { line: 0, name: 'button' },
          { line: LED, name: 'led', direction: 'output' },
          { line: 2, name: 'reset' },
        ],
      },
      chip('spare'),
    ],
  }),
);

const controller = await Controller.start(loadSettings({ args: ['-c', config], env: {} }), { log: new Logger('error') });
const client = await IvshmemClient.connect(join(dir, 'board.sock'));
const guest = new FakeGuest(client.shm, client);
// The driver's interrupt handler: acknowledge what the host raised, so queued commands move on.
client.on('ring', () => guest.ack());
guest.setDirection(LED, true);
guest.setOutput(LED, 0);
for (const line of [0, 2, 3]) guest.enableIrq(line, { rising: true, falling: true });
guest.bind();
guest.ringHost();
while (controller.chips.get('board')?.online !== true) await new Promise((r) => setTimeout(r, 10));

let closing = false;
const stop = async (): Promise<void> => {
  if (closing) return;
  closing = true;
  await client.close();
  await controller.stop();
  rmSync(dir, { recursive: true, force: true });
};
process.once('SIGTERM', () => void stop());

/** What the fake guest drives on its outputs (the shared memory's `out` word is the guest's own). */
const outputs = new Map<number, 0 | 1>([[LED, 0]]);
const drive = (line: number, level: 0 | 1): void => {
  outputs.set(line, level);
  guest.setOutput(line, level);
  guest.ringHost();
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function obey(words: string[]): Promise<void> {
  const [verb, ...rest] = words;
  const n = rest.map(Number);
  if (verb === 'out' && n.length === 2) {
    drive(n[0] ?? LED, n[1] === 1 ? 1 : 0);
  } else if (verb === 'blink' && n.length === 3) {
    const [line = LED, half = 10, count = 0] = n;
    for (let i = 0; i < count; i++) {
      drive(line, outputs.get(line) === 1 ? 0 : 1);
      await sleep(half);
    }
  } else if (verb === 'unbind') {
    guest.unbind();
    guest.ringHost();
  } else if (verb === 'bind') {
    guest.bind();
    guest.ringHost();
  } else {
    throw new Error(`unknown command ${JSON.stringify(words.join(' '))}`);
  }
}

process.stdout.write(`${JSON.stringify({ url: `mqtt://127.0.0.1:${port}`, username: USER, password: PASSWORD, base_topic: BASE })}\n`);
for await (const text of createInterface({ input: process.stdin })) {
  const words = text.trim().split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) continue;
  try {
    await obey(words);
    process.stdout.write('ok\n');
  } catch (error) {
    process.stdout.write(`error ${error instanceof Error ? error.message : String(error)}\n`);
  }
}
await stop();
