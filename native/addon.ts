/**
 * Loads the compiled addon (native/build/Release/vgpio_native.node, built
 * by node-gyp at `npm install` and `npm run build`) and describes its raw
 * interface. Only the modules in native/ use this; the rest of the code
 * imports native/index.ts.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ShmLayout } from './layout.ts';

export interface NativeSharedMemory {
  readonly size: number;
  readonly fd: number;
  /** The mapping itself (one ArrayBuffer per mapping; detached by close()). */
  words(): ArrayBuffer;
  fileSize(): number;
  /** Accesses that met a page the truncated file no longer backs (each made a zero page instead of SIGBUS), as a 4-byte buffer the addon's fault guard increments (one per mapping; detached by close()). */
  faultCounter(): ArrayBuffer;
  read(offset: number, length: number): Buffer;
  write(offset: number, data: Uint8Array): void;
  close(): void;
}

/** What recvMessage found: bytes 0 = end of stream, 8 = one message. */
export interface ReceivedMessage {
  bytes: number;
  value?: bigint;
  fds: number[];
  truncated: boolean;
}

export interface FdWatcher {
  close(): void;
}

export interface NativeBinding {
  protocol: Readonly<Record<string, number>>;
  defaultLayout(ngpio: number, ringLen: number): ShmLayout;
  checkLayout(layout: ShmLayout, size: number, hasNames: boolean, hasRing: boolean): number;
  doorbellValue(peer: number, vector: number): number;
  NativeSharedMemory: {
    openFile(path: string, size: number, create: boolean, mode: number): NativeSharedMemory;
    mapFd(fd: number): NativeSharedMemory;
  };
  /** Calls `callback(status, events)` whenever fd is readable or hung up (uv_poll_t). */
  FdWatcher: new (fd: number, callback: (status: number, events: number) => void) => FdWatcher;
  eventfdCreate(): number;
  eventfdSignal(fd: number): void;
  eventfdDrain(fd: number): number;
  closeFd(fd: number): void;
  unixListen(path: string, mode: number, backlog: number): number;
  unixConnect(path: string): number;
  unixAccept(fd: number): number;
  sendMessage(fd: number, value: bigint, passFd: number): void;
  recvMessage(fd: number): ReceivedMessage | null;
}

/** native/ in the source tree; dist/native/ in a build, whose addon stays in native/build. */
function addonDirectory(): string {
  const here = import.meta.dirname;
  return existsSync(join(here, 'binding.gyp')) ? here : resolve(here, '../../native');
}

const require = createRequire(import.meta.url);
const loadBinding = require('node-gyp-build') as (directory: string) => unknown;

function load(): NativeBinding {
  const directory = addonDirectory();
  try {
    return loadBinding(directory) as NativeBinding;
  } catch (error) {
    throw new Error(
      `cannot load the vgpio2mqtt addon from ${directory}/build: run \`npm install\` or \`npm run build\` to compile it`,
      { cause: error },
    );
  }
}

export const binding: NativeBinding = load();
