// MQTT over WebSocket (ws://<host>/mqtt, subprotocol "mqtt") with MQTT.js, protocol versions
// 5 and 3.1.1, and an MQTT.js client over TCP that must see what the WebSocket client publishes.
// See README.md for the environment it reads.
import WebSocket from 'ws';
import { createRun, gatewayConfig, nonce, Collector, orderProblem, mqttConnect, mqttEnd, publishAll, withTimeout } from './lib.mjs';

const COUNT = 20;
const WAIT_MS = 15000;

const run = createRun('mqtt-ws', { timeoutMs: Number(process.env.TEST_TIMEOUT_MS) || 60000 });
const { log, check, step } = run;

run.main(async () => {
  const cfg = gatewayConfig();
  const id = nonce();
  const p = cfg.prefix;
  log(`MQTT over WebSocket ${cfg.mqttWsUrl}, MQTT over TCP ${cfg.mqttTcp}, topics under ${p}/ws/, run ${id}`);

  const tcp = await step('MQTT (TCP, v5) observer connects', () =>
    mqttConnect(cfg.mqttTcp, { clientId: `mqtt-ws-tcp-${id}`, protocolVersion: 5, log }));
  run.onCleanup(() => mqttEnd(tcp));
  const tcpInbox = new Collector('TCP observer');
  tcp.on('message', (topic, payload) => tcpInbox.push({ topic, payload: payload.toString('utf8') }));
  await step(`TCP observer subscribes ${p}/ws/# QoS 1`, () => tcp.subscribeAsync(`${p}/ws/#`, { qos: 1 }));

  for (const version of [5, 4]) {
    const tag = `v${version}`;
    let socket;
    const ws = await step(`MQTT ${version === 5 ? '5' : '3.1.1'} client connects over WebSocket`, () =>
      mqttConnect(cfg.mqttWsUrl, {
        clientId: `mqtt-ws-${tag}-${id}`,
        protocolVersion: version,
        log,
        // Our own socket, so that the subprotocol the server chose can be checked.
        createWebsocket: (url, protocols) => {
          socket = new WebSocket(url, protocols);
          return socket;
        },
      }));
    run.onCleanup(() => mqttEnd(ws));
    check(`${tag}: WebSocket subprotocol is mqtt`, socket?.protocol === 'mqtt', `got ${JSON.stringify(socket?.protocol)}`);

    const inbox = new Collector(`WebSocket ${tag} client`);
    ws.on('message', (topic, payload, packet) => inbox.push({ topic, payload: payload.toString('utf8'), qos: packet.qos }));
    const grants = await step(`${tag}: subscribe ${p}/ws/# QoS 1 is granted`, () => ws.subscribeAsync(`${p}/ws/#`, { qos: 1 }));
    check(`${tag}: SUBACK grants QoS 0 or 1`, grants.length === 1 && (grants[0].qos === 0 || grants[0].qos === 1), JSON.stringify(grants));

    const topic = `${p}/ws/${tag}`;
    const bodies = Array.from({ length: COUNT }, (_, i) => `ws-${tag} ${id} ${String(i).padStart(2, '0')}`);
    log(`${tag}: publishing ${COUNT} QoS 1 messages to ${topic} over WebSocket`);
    const window = await step(`${tag}: all ${COUNT} publishes get PUBACK`, () =>
      withTimeout(publishAll(ws, topic, bodies, 1), WAIT_MS, 'PUBACKs'));
    log(`     up to ${window} unacknowledged at a time`);

    const mineWs = (m) => m.topic === topic && m.payload.includes(` ${id} `);
    const back = await step(`${tag}: the WebSocket client receives all ${COUNT}`, () => inbox.count(COUNT, WAIT_MS, mineWs));
    check(`${tag}: ... in order`, !orderProblem(bodies, back.map((m) => m.payload)), orderProblem(bodies, back.map((m) => m.payload)));
    if (grants[0].qos === 1) {
      check(`${tag}: ... delivered at QoS 1`, back.every((m) => m.qos === 1), JSON.stringify(back.map((m) => m.qos)));
    }

    const seen = await step(`${tag}: the TCP observer receives all ${COUNT}`, () => tcpInbox.count(COUNT, WAIT_MS, mineWs));
    check(`${tag}: ... in order`, !orderProblem(bodies, seen.map((m) => m.payload)), orderProblem(bodies, seen.map((m) => m.payload)));

    // The other way: a TCP publish reaches the WebSocket client.
    const fromTcp = `tcp-to-ws-${tag} ${id} x`;
    await step(`${tag}: TCP publish to ${p}/ws/from-tcp gets PUBACK`, () =>
      withTimeout(tcp.publishAsync(`${p}/ws/from-tcp`, fromTcp, { qos: 1 }), WAIT_MS, 'PUBACK'));
    await step(`${tag}: the WebSocket client receives the TCP publish`, () =>
      inbox.count(1, WAIT_MS, (m) => m.topic === `${p}/ws/from-tcp` && m.payload === fromTcp));

    await mqttEnd(ws);
    log(`${tag}: WebSocket client disconnected`);
  }
});
