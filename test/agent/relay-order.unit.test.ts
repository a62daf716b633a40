/**
 * Agent relays reach the brokers of an `mqtt.server` list in
 * `mqtt.server_order`, as the bridge's own connection does: `random`
 * starts at a random node (spreading guests' agents over a cluster).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { upstreamConnector } from '../../bridge/agent-link/relay.ts';
import type { MqttSettings } from '../../bridge/settings/types.ts';

describe('agent relay broker order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vgpio-relay-'));
  const names = ['n1', 'n2', 'n3'];
  const reached: string[] = [];
  const servers: Server[] = [];

  before(async () => {
    for (const name of names) {
      const server = createServer((socket) => {
        reached.push(name);
        socket.destroy();
      });
      await new Promise<void>((resolve) => server.listen(join(dir, name), resolve));
      servers.push(server);
    }
  });

  after(async () => {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    rmSync(dir, { recursive: true, force: true });
  });

  /** The node the first relayed agent connection reaches. */
  async function first(order: 'ordered' | 'random', random: number): Promise<string | undefined> {
    reached.length = 0;
    const mqtt = { server: names.map((name) => `unix://${join(dir, name)}`), serverOrder: order } as unknown as MqttSettings;
    const socket = upstreamConnector(mqtt, () => random)();
    await new Promise((resolve) => socket.once('close', resolve));
    return reached[0];
  }

  it('starts at the first node with server_order ordered', async () => {
    assert.equal(await first('ordered', 0.99), 'n1');
  });

  it('starts at a random node with server_order random', async () => {
    assert.equal(await first('random', 0.99), 'n3');
    assert.equal(await first('random', 0.4), 'n2');
  });
});
