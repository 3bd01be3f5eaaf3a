// The ACL on STOMP, from @stomp/stompjs over `ws`, with an MQTT.js publisher. The gateway runs with
// the ACL of tests/Gateway.IntegrationTests/Security/AclGateway.cs (alice: read sensors/# but not
// sensors/secret/#, write devices/alice/#; watcher: everything). See README.md for the environment.
import { createRun, gatewayConfig, nonce, Collector, mqttConnect, mqttEnd } from './lib.mjs';
import { stompConnect, stompClose, subscribeWithReceipt, sendWithReceipt, nextError } from './stomp.mjs';
import { withTimeout } from './lib.mjs';

const WAIT_MS = 15000;
const run = createRun('stomp-acl', { timeoutMs: Number(process.env.TEST_TIMEOUT_MS) || 60000 });
const { log, check, step } = run;

/** The ERROR a refused frame gets, and the close that follows it (STOMP 1.2: the server closes after ERROR). */
async function refusedWithError(what, act) {
  const session = await stompConnect(gatewayConfig().stompUrl, { name: what, log, login: 'alice', passcode: process.env.ACL_PASSWORD });
  run.onCleanup(() => stompClose(session));
  act(session);
  const error = await step(`${what} gets an ERROR`, () => nextError(session, WAIT_MS, `ERROR for ${what}`));
  await step(`${what}: the connection closes after the ERROR`, () => withTimeout(session.closed, WAIT_MS, 'the close'));
  return error.headers.message;
}

run.main(async () => {
  const cfg = gatewayConfig();
  const id = nonce();

  const alice = await step('alice connects (login alice)', () => stompConnect(cfg.stompUrl, { name: 'alice', log, login: 'alice', passcode: process.env.ACL_PASSWORD }));
  run.onCleanup(() => stompClose(alice));
  await step('a SEND to /topic/devices.alice.temp (her %u pattern) gets its RECEIPT', () =>
    withTimeout(sendWithReceipt(alice, '/topic/devices.alice.temp', `allowed ${id}`, `ok-${id}`), WAIT_MS, 'RECEIPT'));

  const sendError = await refusedWithError('SEND to /topic/devices.bob.valve', (s) =>
    s.client.publish({ destination: '/topic/devices.bob.valve', body: `refused ${id}`, headers: { receipt: `no-${id}` } }));
  console.log(`SEND-ERROR: ${sendError}`);

  const subscribeError = await refusedWithError('SUBSCRIBE to /topic/sensors.secret.#', (s) =>
    s.client.subscribe('/topic/sensors.secret.#', () => {}, { id: `secret-${id}`, receipt: `sub-${id}` }));
  console.log(`SUBSCRIBE-ERROR: ${subscribeError}`);

  const inbox = new Collector('alice on /topic/sensors.#');
  await step('SUBSCRIBE to /topic/sensors.# is granted (RECEIPT)', () =>
    subscribeWithReceipt(alice, '/topic/sensors.#', (m) => inbox.push({ destination: m.headers.destination, body: m.body }), `sensors-${id}`, WAIT_MS));
  const watcher = await step('watcher connects over MQTT', () =>
    mqttConnect(cfg.mqttTcp, { clientId: `watcher-${id}`, username: 'watcher', password: process.env.ACL_PASSWORD, log }));
  run.onCleanup(() => mqttEnd(watcher));
  await step('watcher publishes on sensors/secret/key, then on sensors/line1/temp', async () => {
    await watcher.publishAsync('sensors/secret/key', `secret ${id}`, { qos: 1 });
    await watcher.publishAsync('sensors/line1/temp', `reading ${id}`, { qos: 1 });
  });
  const got = await step('alice gets the reading', () => inbox.count(1, WAIT_MS, (m) => m.body === `reading ${id}`));
  check('alice never got the secret', !inbox.items.some((m) => m.body === `secret ${id}`), JSON.stringify(inbox.items));
  console.log(`DELIVERED: ${inbox.items.map((m) => m.destination).join(' ')}`);
  check('the reading came as /topic/sensors.line1.temp', got[0].destination === '/topic/sensors.line1.temp', JSON.stringify(got));
});
