// MQTT.js with an empty client id, over WebSocket (ws://<host>/mqtt) and TCP, protocol 5 and 3.1.1:
// the gateway assigns one (MQTT-3.1.3-6), tells it to MQTT 5 clients in CONNACK (MQTT-3.1.3-7), and a
// QoS 1 publish is acknowledged. With EXPECT_SERVER_KEEP_ALIVE set, MQTT 5 CONNACKs must carry that
// Server Keep Alive (MQTT-3.1.2-21). See README.md for the environment it reads.
import { createRun, gatewayConfig, nonce, mqttConnect, mqttEnd, publishAll, withTimeout } from './lib.mjs';

const WAIT_MS = 15000;

const run = createRun('mqtt-empty-id', { timeoutMs: Number(process.env.TEST_TIMEOUT_MS) || 60000 });
const { log, check, step } = run;

run.main(async () => {
  const cfg = gatewayConfig();
  const id = nonce();
  const keepAlive = process.env.EXPECT_SERVER_KEEP_ALIVE ? Number(process.env.EXPECT_SERVER_KEEP_ALIVE) : undefined;
  log(`MQTT.js with clientId '' to ${cfg.mqttWsUrl} and ${cfg.mqttTcp}, topics under ${cfg.prefix}/empty-id/, run ${id}`);

  const assigned = new Set();
  for (const [transport, url] of [['ws', cfg.mqttWsUrl], ['tcp', cfg.mqttTcp]]) {
    for (const version of [5, 4]) {
      const tag = `${transport} v${version}`;
      const client = await step(`${tag}: connects with an empty client id`, () =>
        mqttConnect(url, { clientId: '', protocolVersion: version, log }));
      run.onCleanup(() => mqttEnd(client));
      if (version === 5) {
        const given = client.connack?.properties?.assignedClientIdentifier;
        check(`${tag}: CONNACK carries an assigned client id`, /^auto-[0-9a-f]{32}$/.test(given ?? ''), JSON.stringify(client.connack));
        check(`${tag}: ... not given to another client`, !assigned.has(given), given);
        assigned.add(given);
        if (keepAlive !== undefined) {
          check(`${tag}: CONNACK carries the Server Keep Alive`, client.connack?.properties?.serverKeepAlive === keepAlive, JSON.stringify(client.connack));
        }
      }
      await step(`${tag}: a QoS 1 publish gets its PUBACK`, () =>
        withTimeout(publishAll(client, `${cfg.prefix}/empty-id/${transport}-${version}`, [`empty-id ${id} ${tag}`], 1), WAIT_MS, 'PUBACK'));
    }
  }
});
