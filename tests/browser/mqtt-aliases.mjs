// Server-side topic aliases (MQTT 5, section 3.3.2.3.4) as MQTT.js receives them: an MQTT.js subscriber
// that allows 2 aliases must get the topic in full with alias 1 once, then alias 1 with an empty topic,
// and MQTT.js must resolve every one back to the topic. See README.md for the environment it reads.
import { createRun, gatewayConfig, nonce, Collector, mqttConnect, mqttEnd, publishAll } from './lib.mjs';

const COUNT = 4;
const WAIT_MS = 15000;

const run = createRun('mqtt-aliases', { timeoutMs: Number(process.env.TEST_TIMEOUT_MS) || 60000 });
const { log, check, step } = run;

run.main(async () => {
  const cfg = gatewayConfig();
  const id = nonce();
  const topic = `${cfg.prefix}/aliases/${id}`;

  const sub = await step('MQTT.js subscriber (v5, Topic Alias Maximum 2) connects', () =>
    mqttConnect(cfg.mqttTcp, { clientId: `aliases-sub-${id}`, protocolVersion: 5, log, properties: { topicAliasMaximum: 2 } }));
  run.onCleanup(() => mqttEnd(sub));
  // As it came off the wire: MQTT.js fills in the topic of an aliased packet after this event.
  const wire = new Collector('PUBLISH packets');
  sub.on('packetreceive', (packet) => {
    if (packet.cmd === 'publish') wire.push({ topic: packet.topic, alias: packet.properties?.topicAlias ?? 0 });
  });
  const inbox = new Collector('messages');
  sub.on('message', (t, payload) => inbox.push({ topic: t, payload: payload.toString('utf8') }));
  await step(`subscriber subscribes ${cfg.prefix}/aliases/# QoS 1`, () => sub.subscribeAsync(`${cfg.prefix}/aliases/#`, { qos: 1 }));

  const pub = await step('MQTT.js publisher connects', () => mqttConnect(cfg.mqttTcp, { clientId: `aliases-pub-${id}`, protocolVersion: 5, log }));
  run.onCleanup(() => mqttEnd(pub));
  const bodies = Array.from({ length: COUNT }, (_, i) => `alias ${id} ${i}`);
  await step(`${COUNT} QoS 1 publishes to one topic are acknowledged`, () => publishAll(pub, topic, bodies, 1));

  const got = await step(`the subscriber receives all ${COUNT}`, () => inbox.count(COUNT, WAIT_MS));
  check('each message has its full topic (MQTT.js resolved the aliases)', got.every((m) => m.topic === topic), JSON.stringify(got));
  const packets = wire.items.slice(0, COUNT);
  console.log(`WIRE: ${JSON.stringify(packets)}`);
  check('the first PUBLISH carries the topic with alias 1', packets[0]?.topic === topic && packets[0]?.alias === 1, JSON.stringify(packets[0]));
  check('the later ones carry alias 1 and an empty topic', packets.slice(1).every((x) => x.topic === '' && x.alias === 1), JSON.stringify(packets.slice(1)));
  check('the connection stayed up', sub.connected, 'the subscriber was disconnected');
});
