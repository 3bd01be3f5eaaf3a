// STOMP 1.2 over WebSocket from Node (@stomp/stompjs over `ws`), bridged both ways with MQTT
// over TCP (MQTT.js). See README.md for the environment it reads.
import { createRun, gatewayConfig, nonce, Collector, orderProblem, mqttConnect, mqttEnd, publishAll, withTimeout } from './lib.mjs';
import { stompConnect, stompClose, subscribeWithReceipt, sendWithReceipt, nextError } from './stomp.mjs';

const COUNT = 20;
const WAIT_MS = 15000;

const run = createRun('stomp-node', { timeoutMs: Number(process.env.TEST_TIMEOUT_MS) || 60000 });
const { log, check, step } = run;

run.main(async () => {
  const cfg = gatewayConfig();
  const id = nonce();
  const p = cfg.prefix;
  log(`STOMP ${cfg.stompUrl}, MQTT ${cfg.mqttTcp}, topics under ${p}/node/, run ${id}`);

  // --- the subscribing STOMP session ------------------------------------------------
  const stomp = await step('STOMP session over WebSocket (subprotocol v12.stomp) gets CONNECTED', () =>
    stompConnect(cfg.stompUrl, { name: 'stomp', log }));
  run.onCleanup(() => stompClose(stomp));
  check('WebSocket subprotocol chosen by the server is v12.stomp', stomp.socket.protocol === 'v12.stomp',
    `got ${JSON.stringify(stomp.socket.protocol)}`);
  check('CONNECTED version header is 1.2', stomp.connectedFrame.headers.version === '1.2',
    `headers: ${JSON.stringify(stomp.connectedFrame.headers)}`);

  const stompInbox = new Collector('STOMP subscriber');
  const subId = `node-${id}`;
  await step(`SUBSCRIBE /topic/${p}.node.# is confirmed by a RECEIPT`, () =>
    subscribeWithReceipt(stomp, `/topic/${p}.node.#`, (m) => stompInbox.push(m), subId, WAIT_MS));

  // --- the MQTT subscriber over TCP ----------------------------------------------------
  const mqttSub = await step('MQTT (TCP, v5) subscriber connects', () =>
    mqttConnect(cfg.mqttTcp, { clientId: `stomp-node-sub-${id}`, protocolVersion: 5, log }));
  run.onCleanup(() => mqttEnd(mqttSub));
  const mqttInbox = new Collector('MQTT subscriber');
  mqttSub.on('message', (topic, payload) => mqttInbox.push({ topic, payload: payload.toString('utf8') }));
  const grants = await step(`MQTT subscribe ${p}/node/# QoS 1 is granted`, () =>
    mqttSub.subscribeAsync(`${p}/node/#`, { qos: 1 }));
  check('SUBACK grants QoS 0 or 1', grants.length === 1 && (grants[0].qos === 0 || grants[0].qos === 1),
    JSON.stringify(grants));

  // --- STOMP SEND x20 with receipts -> STOMP and MQTT subscribers ----------------------
  const toAll = Array.from({ length: COUNT }, (_, i) => `stomp-to-all ${id} ${String(i).padStart(2, '0')}`);
  const mine = (body) => body.includes(` ${id} `);
  log(`sending ${COUNT} SEND frames to /topic/${p}.node.a, each with a receipt`);
  const receipts = toAll.map((body, i) => sendWithReceipt(stomp, `/topic/${p}.node.a`, body, `send-${id}-${i}`));
  await step(`all ${COUNT} RECEIPTs arrive`, async () => {
    let got = 0;
    receipts.forEach((r) => r.then(() => { got += 1; }));
    try {
      await withTimeout(Promise.all(receipts), WAIT_MS, 'RECEIPTs');
    } catch (err) {
      throw new Error(`${got} of ${COUNT} receipts arrived (${err.message})`);
    }
    if (stomp.errors.length) throw new Error(`ERROR frame: ${stomp.errors[0].headers.message}`);
  });

  const stompA = await step(`STOMP subscriber gets all ${COUNT}`, () =>
    stompInbox.count(COUNT, WAIT_MS, (m) => mine(m.body) && m.body.startsWith('stomp-to-all')));
  check('STOMP subscriber got them in order', !orderProblem(toAll, stompA.map((m) => m.body)),
    orderProblem(toAll, stompA.map((m) => m.body)));
  const badDest = stompA.find((m) => m.headers.destination !== `/topic/${p}.node.a`);
  check(`MESSAGE destination is /topic/${p}.node.a`, !badDest, badDest && `got ${badDest.headers.destination}`);
  const badSub = stompA.find((m) => m.headers.subscription !== subId);
  check(`MESSAGE subscription header is the SUBSCRIBE id (${subId})`, !badSub, badSub && `got ${badSub.headers.subscription}`);
  const ids = stompA.map((m) => m.headers['message-id']);
  check('every MESSAGE has a distinct message-id', ids.every(Boolean) && new Set(ids).size === ids.length,
    `message-ids: ${JSON.stringify(ids)}`);
  const types = [...new Set(stompA.map((m) => m.headers['content-type']))];
  if (types.length === 1 && types[0] && types[0].startsWith('text/plain')) {
    log(`info MESSAGE content-type is ${types[0]}`);
  } else {
    log(`note content-type of the MESSAGE frames: ${JSON.stringify(types)} (sent as text/plain)`);
  }

  const mqttA = await step(`MQTT subscriber gets all ${COUNT}`, () =>
    mqttInbox.count(COUNT, WAIT_MS, (m) => mine(m.payload) && m.payload.startsWith('stomp-to-all')));
  check('MQTT subscriber got them in order', !orderProblem(toAll, mqttA.map((m) => m.payload)),
    orderProblem(toAll, mqttA.map((m) => m.payload)));
  const badTopic = mqttA.find((m) => m.topic !== `${p}/node/a`);
  check(`MQTT topic is ${p}/node/a`, !badTopic, badTopic && `got ${badTopic.topic}`);

  // --- MQTT publish x20 QoS 1 -> STOMP subscriber --------------------------------------
  const fromMqtt = Array.from({ length: COUNT }, (_, i) => `mqtt-to-stomp ${id} ${String(i).padStart(2, '0')}`);
  log(`publishing ${COUNT} QoS 1 messages to ${p}/node/b over MQTT`);
  const window = await step(`all ${COUNT} MQTT publishes get PUBACK`, () =>
    withTimeout(publishAll(mqttSub, `${p}/node/b`, fromMqtt, 1), WAIT_MS, 'PUBACKs'));
  log(`     up to ${window} unacknowledged at a time`);
  const stompB = await step(`STOMP subscriber gets all ${COUNT} MQTT publishes`, () =>
    stompInbox.count(COUNT, WAIT_MS, (m) => mine(m.body) && m.body.startsWith('mqtt-to-stomp')));
  check('... in order', !orderProblem(fromMqtt, stompB.map((m) => m.body)), orderProblem(fromMqtt, stompB.map((m) => m.body)));
  const badDestB = stompB.find((m) => m.headers.destination !== `/topic/${p}.node.b`);
  check(`... with destination /topic/${p}.node.b`, !badDestB, badDestB && `got ${badDestB.headers.destination}`);

  // --- invalid destinations: ERROR frame with a message header, then the connection closes
  for (const [label, destination] of [['queue', '/queue/nope'], ['wildcard', `/topic/${p}.node.#`]]) {
    const bad = await step(`second STOMP session (${label}) connects`, () =>
      stompConnect(cfg.stompUrl, { name: `stomp-${label}`, log }));
    run.onCleanup(() => stompClose(bad));
    let receipted = false;
    bad.client.watchForReceipt(`bad-${id}-${label}`, () => { receipted = true; });
    bad.client.publish({
      destination,
      body: `must be refused ${id}`,
      headers: { 'content-type': 'text/plain', receipt: `bad-${id}-${label}` },
    });
    const error = await step(`SEND to ${destination} gets an ERROR frame`, () =>
      nextError(bad, WAIT_MS, `ERROR frame after SEND to ${destination}`));
    check('... with a message header', typeof error.headers.message === 'string' && error.headers.message.length > 0,
      `headers: ${JSON.stringify(error.headers)}`);
    log(`     message: ${JSON.stringify(error.headers.message)}`);
    check('... and no RECEIPT', !receipted);
    await step('... and the server closes the connection', () => withTimeout(bad.closed, 5000, 'close after ERROR'));
  }

  check('the subscribing session saw no ERROR frame', stomp.errors.length === 0,
    stomp.errors.map((e) => e.headers.message).join('; '));
  const stray = stompInbox.items.filter((m) => m.body.includes('must be refused'));
  check('no refused message reached the subscriber', stray.length === 0, stray.map((m) => m.headers.destination).join(', '));
});
