// The message view (messages.html) without a gateway: serves src/Gateway/wwwroot from a throwaway loopback
// HTTP server that refuses WebSocket upgrades, opens it in headless Chromium and checks that it
// renders, says it is not connected, and throws no script errors. Needs no gateway; needs the
// vendored bundle (scripts/web-vendor.sh). Leaves a screenshot in out/page-offline.png.
import { createServer } from 'node:http';
import { readFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join, normalize, extname } from 'node:path';
import { chromium } from 'playwright-core';
import { createRun } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const WWWROOT = join(HERE, '..', '..', 'src', 'Gateway', 'wwwroot');
const OUT_DIR = join(HERE, 'out');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

const run = createRun('page-offline', { timeoutMs: Number(process.env.TEST_TIMEOUT_MS) || 60000 });
const { log, check, step } = run;

run.main(async () => {
  const upgrades = [];
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const rel = normalize(path === '/' ? '/index.html' : path);
    if (rel.includes('..')) { res.writeHead(400).end(); return; }
    try {
      const body = await readFile(join(WWWROOT, rel));
      res.writeHead(200, { 'content-type': TYPES[extname(rel)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  server.on('upgrade', (req, socket) => {
    upgrades.push(req.url);
    socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  run.onCleanup(() => new Promise((resolve) => server.close(resolve)));
  const base = `http://127.0.0.1:${server.address().port}`;
  log(`serving ${WWWROOT} at ${base}`);

  const browser = await step(`Chromium starts (${CHROMIUM})`, () =>
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 }));
  run.onCleanup(() => browser.close());
  log(`     browser version ${browser.version()}`);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors = [];
  const consoleErrors = [];
  const requests = [];
  page.on('pageerror', (err) => { pageErrors.push(err.message); log(`PAGE ERROR: ${err.message}`); });
  page.on('console', (msg) => {
    if (msg.type() === 'error') { consoleErrors.push(msg.text()); log(`console error: ${msg.text()}`); }
  });
  page.on('request', (req) => requests.push(req.url()));

  const response = await step('the page loads', () => page.goto(`${base}/messages.html`, { waitUntil: 'load', timeout: 15000 }));
  check('... with HTTP 200', response.status() === 200, `status ${response.status()}`);
  check('the STOMP bundle is loaded', await page.evaluate(() => typeof window.StompJs?.Client === 'function'),
    'run scripts/web-vendor.sh first');
  for (const sel of ['#status', '#filter', '#subscribe', '#messages', '#destination', '#body', '#send', '#send-result', '#count', '#clear']) {
    check(`${sel} is there`, (await page.$(sel)) !== null);
  }
  check('#filter defaults to /topic/#', (await page.inputValue('#filter')) === '/topic/#');
  check('#destination defaults to /topic/dashboard.commands', (await page.inputValue('#destination')) === '/topic/dashboard.commands');

  await step('#status turns to a disconnected state once the WebSocket is refused', () =>
    page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'disconnected', null, { timeout: 15000 }));
  const status = await page.textContent('#status');
  log(`     #status: ${JSON.stringify(status)}`);
  check('#status does not say connected', status !== 'connected' && status.startsWith('disconnected'), status);
  check('the page tried ws://<host>/stomp', upgrades.includes('/stomp'), JSON.stringify(upgrades));
  check('#send is disabled while disconnected', await page.isDisabled('#send'));

  await page.click('#subscribe');
  check('subscribing while disconnected throws nothing', pageErrors.length === 0, pageErrors.join(' | '));
  await page.click('#clear');
  check('#count reads 0 after Clear', (await page.textContent('#count')) === '0');

  const foreign = requests.filter((u) => !u.startsWith(base) && !u.startsWith('data:') && !u.startsWith(base.replace('http', 'ws')));
  check('no request left the page\'s origin', foreign.length === 0, foreign.join(', '));
  check('no uncaught page errors', pageErrors.length === 0, pageErrors.join(' | '));
  const unexpected = consoleErrors.filter((t) => !/WebSocket/i.test(t));
  check('no console errors other than the refused WebSocket', unexpected.length === 0, unexpected.join(' | '));

  await mkdir(OUT_DIR, { recursive: true });
  await page.screenshot({ path: join(OUT_DIR, 'page-offline.png'), fullPage: true });
  log(`screenshot ${join(OUT_DIR, 'page-offline.png')}`);
});
