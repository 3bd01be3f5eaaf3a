// MQTT.js (TCP, MQTT 5) with automatic topic aliases, within the Topic Alias Maximum the gateway
// announces in CONNACK: the first publish sets an alias, the next ones send an empty topic with it
// [MQTT-3.3.2-12]; every one must be acknowledged and reach a subscriber under the full topic.
// See README.md for the environment it reads.
import { createRun, gatewayConfig, nonce, Collector, mqttConnect, mqttEnd, withTimeout } from './lib.mjs';

const COUNT = 5;
const WAIT_MS = 15000;

const run = createRun('mqtt-topic-alias', { timeoutMs: Number(process.env.TEST_TIMEOUT_MS) || 60000 });
const { log, check, step } = run;

run.main(async () => {
  const cfg = gatewayConfig();
  const id = nonce();
  const topic = `${cfg.prefix}/alias/${id}`;

  const observer = await step('observer connects', () => mqttConnect(cfg.mqttTcp, { clientId: `alias-obs-${id}`, log }));
  run.onCleanup(() => mqttEnd(observer));
  const inbox = new Collector('observer');
  observer.on('message', (t, payload) => inbox.push({ topic: t, payload: payload.toString('utf8') }));
  await step(`observer subscribes ${topic}`, () => observer.subscribeAsync(topic, { qos: 1 }));

  const device = await step('device connects with autoUseTopicAlias', () =>
    mqttConnect(cfg.mqttTcp, { clientId: `alias-dev-${id}`, log, autoUseTopicAlias: true, autoAssignTopicAlias: true }));
  run.onCleanup(() => mqttEnd(device));
  const maximum = device.connack?.properties?.topicAliasMaximum;
  console.log(`TOPIC_ALIAS_MAXIMUM: ${maximum}`);
  check('CONNACK announces a Topic Alias Maximum', Number.isInteger(maximum) && maximum > 0, `got ${maximum}`);

  const sent = [];
  device.on('packetsend', (packet) => {
    if (packet.cmd === 'publish') sent.push(`${packet.topic === '' ? '(empty)' : packet.topic}@${packet.properties?.topicAlias ?? '-'}`);
  });
  for (let i = 0; i < COUNT; i++) {
    await step(`publish ${i} is acknowledged`, () => withTimeout(device.publishAsync(topic, `m${i}`, { qos: 1 }), WAIT_MS, 'PUBACK'));
  }
  console.log(`SENT: ${sent.join(' ')}`);
  check('the first publish sets an alias, the others use it with an empty topic',
    sent.length === COUNT && sent[0].startsWith(`${topic}@`) && sent.slice(1).every((s) => s.startsWith('(empty)@') && s.endsWith(sent[0].split('@')[1])),
    sent.join(' '));

  const got = await step(`observer receives all ${COUNT}`, () => inbox.count(COUNT, WAIT_MS));
  check('each under the full topic, in order',
    got.every((m, i) => m.topic === topic && m.payload === `m${i}`), JSON.stringify(got));
});
