/** A TCP port on 127.0.0.1 that was free a moment ago (for programs that need a port number up front). */
import { createServer } from 'node:net';

/** Below Linux's default ephemeral range (32768-60999): no outgoing connection takes such a port between the pick and its use. */
const LOW = 20_000;
const HIGH = 32_767;
/** Ports handed out by this process: never handed out twice (several are often picked before any is bound). */
const handedOut = new Set<number>();

async function bindable(port: number): Promise<number | undefined> {
  const server = createServer();
  const bound = await new Promise<boolean>((resolve) => {
    server.once('error', () => {
      resolve(false);
    });
    server.listen(port, '127.0.0.1', () => {
      resolve(true);
    });
  });
  if (!bound) return undefined;
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : undefined;
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    if (handedOut.has(port)) continue;
    if ((await bindable(port)) !== undefined) {
      handedOut.add(port);
      return port;
    }
  }
  // The low range is crowded: any free port the kernel gives.
  for (;;) {
    const port = await bindable(0);
    if (port !== undefined && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}
