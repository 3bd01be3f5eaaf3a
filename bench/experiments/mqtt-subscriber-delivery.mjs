// QoS 1 delivery to one MQTT 5 subscriber through a running gateway: P publishers (MQTT.js, MQTT 5) each
// publish N QoS 1 messages of 100 bytes with W unacknowledged at a time; one subscriber (QoS 1, with
// Receive Maximum RM when set) counts them. Prints messages/s from the first publish to the last receipt.
//   URL=mqtt://127.0.0.1:1883 P=10 N=2000 W=50 RM=20 node bench/experiments/mqtt-subscriber-delivery.mjs
// Uses MQTT.js from tests/browser (npm ci there, as ./test.sh does).
import { createRequire } from 'node:module';
const mqtt = createRequire(new URL('../../tests/browser/package.json', import.meta.url))('mqtt');
const url = process.env.URL, P = +process.env.P || 10, N = +process.env.N || 2000, W = +process.env.W || 50, RM = +process.env.RM || 0;
const connect = (id, props) => new Promise((res, rej) => { const c = mqtt.connect(url, { clientId: id, protocolVersion: 5, reconnectPeriod: 0, properties: props }); c.once('connect', () => res(c)); c.once('error', rej); });
const sub = await connect('bench-sub-' + Date.now(), RM ? { receiveMaximum: RM } : {});
sub.on("close", () => console.log("  sub closed")); sub.on("error", (e) => console.log("  sub error " + e.message)); sub.on("disconnect", (p) => console.log("  sub disconnect " + JSON.stringify(p)));
await sub.subscribeAsync('bench/deliver/#', { qos: 1 });
let got = 0; const total = P * N; let done;
const finished = new Promise((r) => (done = r));
sub.on('message', () => { if (++got === total) done(); });
const pubs = await Promise.all(Array.from({ length: P }, (_, i) => connect(`bench-pub-${i}-${Date.now()}`)));
const payload = Buffer.alloc(100, 120);
const t0 = process.hrtime.bigint();
if (process.env.TRACE) setInterval(() => got < total && console.log(`  ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s: ${got}`), 2000).unref();
await Promise.all(pubs.map(async (c, i) => {
  const inflight = new Set();
  for (let k = 0; k < N; k++) {
    if (inflight.size >= W) await Promise.race(inflight);
    const p = c.publishAsync(`bench/deliver/${i}`, payload, { qos: 1 }).finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
}));
const tPub = Number(process.hrtime.bigint() - t0) / 1e9;
await Promise.race([finished, new Promise((r) => setTimeout(r, +process.env.WAIT_MS || 120000))]);
const t = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`RM=${RM || 'none'} published ${total} in ${tPub.toFixed(2)} s; received ${got}/${total} in ${t.toFixed(2)} s: ${(got / t).toFixed(0)} msgs/s`);
for (const c of [sub, ...pubs]) c.end(true);
process.exit(0);
