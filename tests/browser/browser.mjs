// The example page at GATEWAY_HTTP/ in headless Chromium (playwright-core driving the system
// /usr/bin/chromium; no browser is downloaded): it connects over STOMP, shows what an MQTT
// client publishes, and what it sends is stored (RECEIPT) and reaches an MQTT subscriber.
// Prints "PAGE-SENT: <payload>" for the payload the page sent. See README.md.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { createRun, gatewayConfig, nonce, Collector, mqttConnect, mqttEnd, withTimeout, sleep } from './lib.mjs';

const WAIT_MS = 15000;
const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), 'out');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const run = createRun('browser', { timeoutMs: Number(process.env.TEST_TIMEOUT_MS) || 60000 });
const { log, check, step } = run;

run.main(async () => {
  const cfg = gatewayConfig();
  const id = nonce();
  const p = cfg.prefix;
  const origin = new URL(cfg.http).origin;
  log(`page ${cfg.http}/, MQTT ${cfg.mqttTcp}, topics under ${p}/page/, run ${id}`);

  // --- browser --------------------------------------------------------------------------
  // launch() gives Chromium a fresh temporary profile (--user-data-dir) and removes it on close.
  const browser = await step(`Chromium starts (${CHROMIUM})`, () =>
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 }));
  run.onCleanup(() => browser.close());
  log(`     browser version ${browser.version()}`);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();

  const pageErrors = [];
  const consoleErrors = [];
  const foreignRequests = [];
  page.on('pageerror', (err) => {
    pageErrors.push(err);
    log(`PAGE ERROR: ${err.message}`);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      consoleErrors.push(msg.text());
      log(`console error: ${msg.text()}`);
    } else if (msg.type() === 'warning') {
      log(`console warning: ${msg.text()}`);
    }
  });
  page.on('request', (req) => {
    const url = req.url();
    if (url.startsWith('data:') || url.startsWith('blob:')) return;
    const reqOrigin = new URL(url).origin;
    const wsOrigin = reqOrigin.replace(/^ws/, 'http');
    if (reqOrigin !== origin && wsOrigin !== origin) {
      foreignRequests.push(url);
      log(`request to another origin: ${url}`);
    }
  });
  page.on('requestfailed', (req) => log(`request failed: ${req.url()} (${req.failure()?.errorText})`));
  page.on('response', (res) => {
    if (res.status() >= 400) log(`HTTP ${res.status()} for ${res.url()}`);
  });
  page.on('websocket', (ws) => {
    log(`page opened WebSocket ${ws.url()}`);
    ws.on('close', () => log(`page WebSocket closed ${ws.url()}`));
  });

  run.onCleanup(async () => {
    if (!run.hasFailed()) return;
    try {
      mkdirSync(OUT_DIR, { recursive: true });
      const file = join(OUT_DIR, `browser-failure-${new Date().toISOString().replace(/[:.]/g, '-')}.png`);
      await page.screenshot({ path: file, fullPage: true, timeout: 5000 });
      console.error(`screenshot: ${file}`);
      const status = await page.textContent('#status', { timeout: 1000 }).catch(() => '?');
      const result = await page.textContent('#send-result', { timeout: 1000 }).catch(() => '?');
      console.error(`page state: #status=${JSON.stringify(status)} #send-result=${JSON.stringify(result)}`);
    } catch (err) {
      console.error(`could not take a screenshot: ${err.message}`);
    }
  });

  // --- page loads and connects ----------------------------------------------------------
  const response = await step(`GET ${cfg.http}/ loads the page`, () =>
    page.goto(`${cfg.http}/messages.html`, { waitUntil: 'load', timeout: WAIT_MS }));
  check('... with HTTP 200', response?.status() === 200, `status ${response?.status()}`);
  check('... and the STOMP library from /vendor/', await page.evaluate(() => typeof window.StompJs?.Client === 'function'),
    'window.StompJs.Client is missing: is src/Gateway/wwwroot/vendor/stomp.umd.min.js there (scripts/web-vendor.sh)?');

  await step('#status shows "connected"', () =>
    page.waitForFunction(() => document.getElementById('status')?.textContent === 'connected', null, { timeout: WAIT_MS })
      .catch(async (err) => {
        const text = await page.textContent('#status').catch(() => '?');
        throw new Error(`#status is ${JSON.stringify(text)} (${err.message.split('\n')[0]})`);
      }));

  // --- MQTT side --------------------------------------------------------------------------
  const mqttc = await step('MQTT (TCP) client connects', () =>
    mqttConnect(cfg.mqttTcp, { clientId: `browser-test-${id}`, protocolVersion: 5, log }));
  run.onCleanup(() => mqttEnd(mqttc));
  const outbox = new Collector('MQTT subscriber');
  mqttc.on('message', (topic, payload) => outbox.push({ topic, payload: payload.toString('utf8') }));
  await step(`MQTT subscribe ${p}/page/out QoS 1`, () => mqttc.subscribeAsync(`${p}/page/out`, { qos: 1 }));

  // --- subscribe in the page, MQTT publish shows up in the list --------------------------
  const filter = `/topic/${p}.page.#`;
  await page.fill('#filter', filter);
  await page.click('#subscribe');
  log(`page subscribes to ${filter}`);
  const confirmed = await page
    .waitForFunction(() => document.getElementById('subscription-state')?.dataset.state === 'active', null, { timeout: 5000 })
    .then(() => true, () => false);
  log(confirmed ? 'ok   page shows the subscription as active (RECEIPT)' : 'note no RECEIPT for the page\'s SUBSCRIBE after 5 s; going on');

  const hello = `hello from mqtt ${id}`;
  await step(`MQTT publish "${hello}" to ${p}/page/in appears in #messages`, async () => {
    // Published again every few seconds until shown, in case the SUBSCRIBE was not yet in force.
    const deadline = Date.now() + WAIT_MS;
    for (let attempt = 1; ; attempt++) {
      await withTimeout(mqttc.publishAsync(`${p}/page/in`, hello, { qos: 1 }), 5000, 'PUBACK');
      const shown = await page
        .waitForFunction((text) => document.getElementById('messages')?.textContent.includes(text), hello, { timeout: 3000 })
        .then(() => true, () => false);
      if (shown) {
        if (attempt > 1) log(`     shown after ${attempt} publishes`);
        return;
      }
      if (Date.now() > deadline) throw new Error(`not shown after ${attempt} publishes`);
    }
  });
  const entry = await page.evaluate((text) => {
    const li = [...document.querySelectorAll('#messages li')].find((el) => el.textContent.includes(text));
    return li && { destination: li.querySelector('.destination')?.textContent, body: li.querySelector('.body')?.textContent };
  }, hello);
  check(`... shown with destination /topic/${p}.page.in`, entry?.destination === `/topic/${p}.page.in`, JSON.stringify(entry));
  check('... and the body as sent', entry?.body === hello, JSON.stringify(entry));
  const count = Number(await page.textContent('#count'));
  check('the counter counts it', count >= 1, `#count is ${count}`);

  // Markup in a message is shown as text, never interpreted.
  const markup = `<img src="x-${id}.png" onerror="window.__injected=1"><b>markup ${id}</b>`;
  await step('a message holding HTML is shown as text', async () => {
    await withTimeout(mqttc.publishAsync(`${p}/page/in`, markup, { qos: 1 }), 5000, 'PUBACK');
    await page.waitForFunction((text) => document.getElementById('messages')?.textContent.includes(text), markup, { timeout: WAIT_MS });
    const found = await page.evaluate(() => ({
      elements: document.querySelectorAll('#messages img, #messages b').length,
      injected: window.__injected === 1,
    }));
    if (found.elements || found.injected) throw new Error(`the markup became elements: ${JSON.stringify(found)}`);
  });

  // --- send from the page: RECEIPT -> "stored", the MQTT subscriber gets it --------------
  const sent = `hello from the page ${id}`;
  await page.fill('#destination', `/topic/${p}.page.out`);
  await page.fill('#body', sent);
  await page.click('#send');
  log(`page sends "${sent}" to /topic/${p}.page.out`);
  const result = await step('#send-result shows the outcome', () =>
    page.waitForFunction(() => {
      const el = document.getElementById('send-result');
      return el && el.dataset.state && el.dataset.state !== 'pending' ? el.textContent : false;
    }, null, { timeout: WAIT_MS }).then((handle) => handle.jsonValue()));
  check('#send-result is "stored"', result === 'stored', `it is ${JSON.stringify(result)}`);
  console.log(`PAGE-SENT: ${sent}`);

  const got = await step(`MQTT subscriber of ${p}/page/out receives it`, () =>
    outbox.count(1, WAIT_MS, (m) => m.payload.includes(id)));
  check('... exactly that payload', got.length === 1 && got[0].payload === sent, JSON.stringify(got));
  check(`... on topic ${p}/page/out`, got[0].topic === `${p}/page/out`, got[0].topic);
  await sleep(500); // a duplicate would show up by now
  check('... once', outbox.items.filter((m) => m.payload.includes(id)).length === 1,
    JSON.stringify(outbox.items.map((m) => m.payload)));

  // --- what the page did overall --------------------------------------------------------
  check('no uncaught errors in the page', pageErrors.length === 0, pageErrors.map((e) => e.message).join(' | '));
  check('the page requested nothing from another origin', foreignRequests.length === 0, foreignRequests.join(', '));
  if (consoleErrors.length) log(`note ${consoleErrors.length} console error(s), listed above`);
});
