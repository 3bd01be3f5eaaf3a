// The status dashboard at / in headless Chromium while the caller changes the world around it.
// The caller (DashboardBrowserTests) runs MQTT traffic and answers each "ASK: <step>" line on
// stdout by doing it (stop-upstream, start-upstream, stop-gateway) and writing "done <step>" to
// stdin. The page must follow: the link state, the backlog and the rates change, and the
// lost-gateway banner comes up once the gateway is gone. Screenshots go to out/dashboard-*.png.
import { mkdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { createRun, gatewayConfig } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT_DIR = join(HERE, 'out');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT_MS = Number(process.env.DASHBOARD_WAIT_MS) || 90000;
const UPSTREAM = process.env.DASHBOARD_UPSTREAM || 'cloud';

const run = createRun('dashboard', { timeoutMs: Number(process.env.TEST_TIMEOUT_MS) || 600000 });
const { log, check, step } = run;
const cfg = gatewayConfig();

const answers = createInterface({ input: process.stdin });
const pending = [];
answers.on('line', (line) => pending.shift()?.(line.trim()));

/** Asks the caller to do something and waits for its "done <what>". */
function ask(what) {
  return new Promise((resolve, reject) => {
    pending.push((line) => (line === `done ${what}` ? resolve() : reject(new Error(`asked ${what}, the caller answered '${line}'`))));
    console.log(`ASK: ${what}`);
  });
}

const number = (text) => Number((text ?? '').replace(/[^0-9]/g, '')) || 0;

run.main(async () => {
  await mkdir(OUT_DIR, { recursive: true });
  const browser = await step(`Chromium starts (${CHROMIUM})`, () =>
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 }));
  run.onCleanup(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const pageErrors = [];
  const foreign = [];
  page.on('pageerror', (err) => { pageErrors.push(err.message); log(`PAGE ERROR: ${err.message}`); });
  page.on('request', (req) => { if (!req.url().startsWith(cfg.http)) foreign.push(req.url()); });

  const row = `#upstreams tr[data-upstream="${UPSTREAM}"]`;
  const waiting = async () => number((await page.textContent(`${row} .waiting`)).split('(')[0]);
  const rate = async (id) => number(await page.textContent(id));
  const shot = async (name, target = page) => {
    const path = join(OUT_DIR, `dashboard-${name}.png`);
    await target.screenshot({ path, fullPage: true });
    log(`     screenshot ${path}`);
  };

  await step('the dashboard loads at /', () => page.goto(`${cfg.http}/`, { waitUntil: 'load', timeout: 15000 }));
  await step('it turns live from the status stream', () => page.waitForSelector('body[data-link="live"]', { timeout: WAIT_MS }));
  check('uPlot drew two charts', await page.locator('.uplot').count() === 2);
  await step(`${UPSTREAM} shows connected`, () => page.waitForSelector(`${row}[data-state="connected"]`, { timeout: WAIT_MS }));
  await step('the ingest rate shows the traffic', () => page.waitForFunction(() => Number(document.getElementById('ingest-rate').textContent.replace(/[^0-9]/g, '')) > 0, null, { timeout: WAIT_MS }));
  await step('the forward rate shows it forwarded', () => page.waitForFunction(() => Number(document.getElementById('forward-rate').textContent.replace(/[^0-9]/g, '')) > 0, null, { timeout: WAIT_MS }));
  check('the MQTT publisher is listed', number(await page.textContent('#mqtt-count')) >= 1);
  await shot('connected');

  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
  await phone.goto(`${cfg.http}/`, { waitUntil: 'load', timeout: 15000 });
  await step('on a 390-px phone screen it turns live too', () => phone.waitForSelector('body[data-link="live"]', { timeout: WAIT_MS }));
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check('... and the page is no wider than the screen (tables scroll in their panel)', overflow <= 1, `${overflow} px too wide`);
  await shot('phone', phone);
  await phone.close();

  await ask('stop-upstream');
  await step(`${UPSTREAM} shows reconnecting once its broker is gone`, () =>
    page.waitForSelector(`${row}[data-state="reconnecting"], ${row}[data-state="down"]`, { timeout: WAIT_MS }));
  const before = await waiting();
  await step(`its backlog grows past ${before} while the traffic goes on`, () =>
    page.waitForFunction(([sel, n]) => Number(document.querySelector(sel).textContent.split('(')[0].replace(/[^0-9]/g, '')) > n,
      [`${row} .waiting`, Math.max(before, 0)], { timeout: WAIT_MS }));
  await step('the forward rate falls to 0', () => page.waitForFunction(() => document.getElementById('forward-rate').textContent === '0', null, { timeout: WAIT_MS }));
  check('the ingest rate still shows the traffic', await rate('#ingest-rate') > 0);
  await step('the link failure is listed among the faults', () => page.waitForSelector('#faults li[data-kind="link-failed"], #faults li[data-kind="stall"]', { timeout: WAIT_MS }));
  const peak = await waiting();
  log(`     waiting for ${UPSTREAM}: ${peak}`);
  await shot('upstream-down');

  await ask('start-upstream');
  await step(`${UPSTREAM} shows connected again`, () => page.waitForSelector(`${row}[data-state="connected"]`, { timeout: WAIT_MS }));
  await step(`its backlog drains below the ${peak} it reached`, () =>
    page.waitForFunction(([sel, n]) => Number(document.querySelector(sel).textContent.split('(')[0].replace(/[^0-9]/g, '')) < n,
      [`${row} .waiting`, peak], { timeout: WAIT_MS }));
  await step('the forward rate shows forwarding again', () => page.waitForFunction(() => Number(document.getElementById('forward-rate').textContent.replace(/[^0-9]/g, '')) > 0, null, { timeout: WAIT_MS }));
  await shot('recovered');

  await ask('stop-gateway');
  await step('the banner says the page lost the gateway', () => page.waitForSelector('#lost-banner:not([hidden])', { timeout: WAIT_MS }));
  const banner = await page.textContent('#lost-banner');
  log(`     banner: ${JSON.stringify(banner)}`);
  check('... since when, and that it retries', /^Lost the gateway since \d\d:\d\d:\d\d, retrying/.test(banner), banner);
  check('the page no longer calls itself live', (await page.getAttribute('body', 'data-link')) === 'lost' && (await page.textContent('#live')) === 'not live');
  await shot('lost');

  check('no script errors on the page', pageErrors.length === 0, pageErrors.join(' | '));
  check('nothing fetched from elsewhere', foreign.length === 0, foreign.join(', '));
  console.log(`SCREENSHOTS: ${OUT_DIR}`);
});
