// Shared subscriptions ($share/<group>/<filter>, MQTT 5.0 section 4.8.2) and $SYS topics with
// MQTT.js, a client that is not MQTTnet: over WebSocket and TCP, protocol 5 and 3.1.1.
// See README.md for the environment it reads.
import { createRun, gatewayConfig, nonce, Collector, mqttConnect, mqttEnd, publishAll } from './lib.mjs';

const COUNT = 12;
const WAIT_MS = 15000;

const run = createRun('mqtt-shared', { timeoutMs: Number(process.env.TEST_TIMEOUT_MS) || 60000 });
const { log, check, step } = run;

run.main(async () => {
  const cfg = gatewayConfig();
  const id = nonce();
  const p = cfg.prefix;
  const filter = `$share/${p}-workers/${p}/shared/#`;
  log(`members of ${filter} over WebSocket and TCP, run ${id}`);

  const members = [];
  for (const [url, version, tag] of [[cfg.mqttWsUrl, 5, 'ws-v5'], [cfg.mqttTcp, 5, 'tcp-v5'], [cfg.mqttTcp, 4, 'tcp-v311']]) {
    const client = await step(`${tag} member connects`, () => mqttConnect(url, { clientId: `shared-${tag}-${id}`, protocolVersion: version, log }));
    run.onCleanup(() => mqttEnd(client));
    if (version === 5) {
      // MQTT 5.0 3.2.2.3.15: absent means available; the gateway must not say 0.
      check(`${tag}: CONNACK does not refuse shared subscriptions`, client.connack.properties?.sharedSubscriptionAvailable !== false,
        JSON.stringify(client.connack.properties));
    }
    const inbox = new Collector(`${tag} member`);
    client.on('message', (topic, payload) => inbox.push({ topic, payload: payload.toString('utf8') }));
    const grants = await step(`${tag}: subscribe ${filter} QoS 1`, () => client.subscribeAsync(filter, { qos: 1 }));
    check(`${tag}: SUBACK grants QoS 1`, grants.length === 1 && grants[0].qos === 1, JSON.stringify(grants));
    members.push({ tag, client, inbox });
  }

  const everything = await step('a "#" subscriber connects', () => mqttConnect(cfg.mqttTcp, { clientId: `hash-${id}`, protocolVersion: 5, log }));
  run.onCleanup(() => mqttEnd(everything));
  const all = new Collector('"#" subscriber');
  everything.on('message', (topic, payload) => all.push({ topic, payload: payload.toString('utf8') }));
  await step('"#" subscribed', () => everything.subscribeAsync('#', { qos: 1 }));

  const topic = `${p}/shared/jobs`;
  const bodies = Array.from({ length: COUNT }, (_, i) => `job ${id} ${String(i).padStart(2, '0')}`);
  await step(`${COUNT} QoS 1 publishes to ${topic} get PUBACK`, () => publishAll(everything, topic, bodies, 1));
  await step(`the "#" subscriber receives all ${COUNT}`, () => all.count(COUNT, WAIT_MS, (m) => m.topic === topic));

  const mine = (m) => m.topic === topic && m.payload.includes(` ${id} `);
  const total = () => members.reduce((n, m) => n + m.inbox.items.filter(mine).length, 0);
  await step(`the group receives ${COUNT} in all`, () => waitUntil(() => total() >= COUNT, WAIT_MS, () => `the group got ${total()}`));
  const got = members.flatMap((m) => m.inbox.items.filter(mine).map((x) => x.payload)).sort();
  check('each job reached exactly one member', JSON.stringify(got) === JSON.stringify([...bodies].sort()), JSON.stringify(got));
  const counts = members.map((m) => m.inbox.items.filter(mine).length);
  check('members took turns', counts.every((c) => c === COUNT / members.length), `counts ${JSON.stringify(counts)}`);

  // $SYS: retained and readable, never matched by "#" (MQTT-4.7.2-1).
  const sys = await step('a $SYS subscriber connects', () => mqttConnect(cfg.mqttTcp, { clientId: `sys-${id}`, protocolVersion: 5, log }));
  run.onCleanup(() => mqttEnd(sys));
  const sysInbox = new Collector('$SYS subscriber');
  sys.on('message', (t, payload, packet) => sysInbox.push({ topic: t, payload: payload.toString('utf8'), retain: packet.retain }));
  await step('subscribe $SYS/gateway/#', () => sys.subscribeAsync('$SYS/gateway/#', { qos: 0 }));
  const version = await step('the retained $SYS/gateway/version arrives', () =>
    sysInbox.count(1, WAIT_MS, (m) => m.topic === '$SYS/gateway/version' && m.retain));
  check('version is not empty', version[0].payload.length > 0, JSON.stringify(version[0]));
  // A fresh (not retained) $SYS message went out while "#" was subscribed; a plain message after it
  // reaching "#" shows "#" had its chance at it.
  await step('a fresh $SYS message arrives', () => sysInbox.count(1, WAIT_MS, (m) => m.topic === '$SYS/gateway/uptime' && !m.retain));
  await step('a plain message after it reaches "#"', async () => {
    await everything.publishAsync(`${p}/done`, `done ${id}`, { qos: 1 });
    await all.count(1, WAIT_MS, (m) => m.payload === `done ${id}`);
  });
  check('"#" got no $ topic', !all.items.some((m) => m.topic.startsWith('$')), JSON.stringify(all.items.filter((m) => m.topic.startsWith('$'))));
});

function waitUntil(condition, ms, describe) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (condition()) {
        clearInterval(timer);
        resolve();
      } else if (Date.now() - started > ms) {
        clearInterval(timer);
        reject(new Error(`not reached after ${ms / 1000} s: ${describe()}`));
      }
    }, 50);
  });
}
