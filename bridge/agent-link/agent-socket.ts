/**
 * The host end of a guest agent's virtio-serial port (docs/agent.md): a
 * unix socket that QEMU's `-chardev socket` connects to. Each connection is
 * one raw MQTT byte stream from vgpio-agent, handed to whoever the bridge
 * says (the embedded broker, or a relay to the external broker). The
 * socket file is created like the ivshmem server's (a stale file is
 * replaced, a live owner is an error) and removed on close.
 */
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
// The same safe listen the ivshmem server uses (stale files replaced, live owners refused).
import { listenUnix } from '../../native/index.ts';

export interface AgentSocketOptions {
  path: string;
  /** Permissions of the socket file, e.g. 0o600. */
  mode: number;
  /** A new agent connection: hand the stream on. */
  connection: (socket: Socket) => void;
  /** An agent connection closed (`hadError`: it ended with a socket error). */
  closed: (hadError: boolean) => void;
}

export class AgentSocket {
  readonly path: string;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #closing: Promise<void> | undefined;

  private constructor(path: string, server: Server) {
    this.path = path;
    this.#server = server;
  }

  /** Listens on `path`; throws (nothing left behind) when the path is in use by a live server, not a socket, or in a missing folder. */
  static async listen(options: AgentSocketOptions): Promise<AgentSocket> {
    const fd = listenUnix(options.path, options.mode);
    const server = createServer();
    const agent = new AgentSocket(options.path, server);
    server.on('connection', (socket) => {
      agent.#sockets.add(socket);
      // A guest that vanishes mid-write must not take the bridge down; 'close' reports it.
      socket.on('error', () => undefined);
      socket.once('close', (hadError) => {
        agent.#sockets.delete(socket);
        options.closed(hadError);
      });
      options.connection(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((error: unknown) => {
      rmSync(options.path, { force: true });
      throw error;
    });
    return agent;
  }

  /** Open agent connections. */
  get connections(): number {
    return this.#sockets.size;
  }

  /** Drops every agent connection, stops listening and removes the socket file; safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
      for (const socket of this.#sockets) socket.destroy();
    }).finally(() => {
      rmSync(this.path, { force: true });
    });
    return this.#closing;
  }
}
