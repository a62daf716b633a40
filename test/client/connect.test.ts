/**
 * Finding the bridge, and failing clearly when it cannot be found: a
 * broker that refuses the login (the embedded broker with broker.users),
 * nothing listening, a base topic no bridge serves, a bridge whose
 * retained bridge/state says offline. Each fails within its timeout with a
 * message that names it and never the password.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, VgpioError } from '../../client/index.ts';
// Raw MQTT (MqttProbe), not the typed client: it impersonates a bridge's retained topics to test the client itself.
import { MqttProbe } from '../../testkit/mqtt-probe.ts';
import { freePort } from '../../testkit/ports.ts';
import { FakeBoard } from './fake-board.ts';

async function failure(promise: Promise<unknown>): Promise<VgpioError> {
  const error = await promise.then(
    () => assert.fail('expected connect to fail'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof VgpioError, String(error));
  return error;
}

describe('connect() finds the bridge, or says why not', () => {
  let board: FakeBoard;
  const login = { username: 'tester', password: 's3cret-pw' };

  before(async () => {
    board = await FakeBoard.start({ baseTopic: 'lab/vg', users: [`{ username: ${login.username}, password: ${login.password} }`] });
  });

  after(async () => {
    await board.stop();
  });

  it('connects with the login and a base topic, and lists the chips', async () => {
    const vgpio = await connect({ url: board.url, ...login, baseTopic: 'lab/vg', clientId: 'connect-test' });
    try {
      assert.deepEqual(
        vgpio.chips().map((c) => [c.name, c.lines.length]),
        [['board', 8]],
      );
    } finally {
      await vgpio.close();
    }
  });

  it('fails at once when the broker refuses the login, naming the user and not the password', async () => {
    const error = await failure(connect({ url: board.url, username: login.username, password: 'wrong', baseTopic: 'lab/vg' }));
    assert.equal(error.code, 'login_refused');
    assert.match(error.message, /^the MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+\/? refused the login \(.+; user "tester"\)$/);
    assert.doesNotMatch(error.message, /wrong|s3cret/);
    const anonymous = await failure(connect({ url: board.url, baseTopic: 'lab/vg' }));
    assert.match(anonymous.message, /refused the login \(.+; no user name was given\)$/);
  });

  it('hides a password given in the URL', async () => {
    const error = await failure(connect({ url: board.url.replace('mqtt://', 'mqtt://tester:url-pw@'), baseTopic: 'lab/vg', timeoutMs: 300 }));
    // The URL's login is the right user with a wrong password: refused, and the message shows *** for it.
    assert.equal(error.code, 'login_refused');
    assert.match(error.message, /mqtt:\/\/tester:\*\*\*@127\.0\.0\.1/);
    assert.doesNotMatch(error.message, /url-pw/);
  });

  it('fails when nothing listens at the URL', async () => {
    const port = await freePort();
    const error = await failure(connect({ url: `mqtt://127.0.0.1:${port}`, timeoutMs: 2000 }));
    assert.equal(error.code, 'unreachable');
    assert.match(error.message, new RegExp(`^cannot connect to the MQTT broker at mqtt://127\\.0\\.0\\.1:${port}/?: .*ECONNREFUSED`));
  });

  it('fails after its timeout when no bridge serves the base topic', async () => {
    const error = await failure(connect({ url: board.url, ...login, baseTopic: 'vgpio2mqtt', timeoutMs: 300 }));
    assert.equal(error.code, 'no_bridge');
    assert.match(
      error.message,
      /^expected a running vgpio2mqtt bridge with base topic vgpio2mqtt at mqtt:\/\/127\.0\.0\.1:\d+\/? within 300 ms; saw no retained vgpio2mqtt\/bridge\/info and no vgpio2mqtt\/bridge\/state$/,
    );
  });

  it('fails after its timeout when the bridge left bridge/state offline', async () => {
    const probe = await MqttProbe.connect(board.url, [], login);
    try {
      await probe.client.publishAsync('gone/bridge/info', JSON.stringify({ chips: [] }), { retain: true, qos: 1 });
      await probe.client.publishAsync('gone/bridge/state', JSON.stringify({ state: 'offline' }), { retain: true, qos: 1 });
      const error = await failure(connect({ url: board.url, ...login, baseTopic: 'gone', timeoutMs: 300 }));
      assert.equal(error.code, 'no_bridge');
      assert.match(error.message, /within 300 ms; saw gone\/bridge\/info present and gone\/bridge\/state offline$/);
    } finally {
      await probe.client.publishAsync('gone/bridge/info', '', { retain: true, qos: 1 });
      await probe.client.publishAsync('gone/bridge/state', '', { retain: true, qos: 1 });
      await probe.close();
    }
  });

  it('refuses a base topic that cannot be one', async () => {
    const error = await failure(connect({ url: board.url, baseTopic: 'lab/#' }));
    assert.equal(error.code, 'bad_input');
    assert.equal(error.message, 'baseTopic "lab/#" is not a topic prefix (levels without +, # or empty ones)');
  });
});
