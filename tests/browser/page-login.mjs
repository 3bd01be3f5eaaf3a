// The example page at GATEWAY_HTTP/ on a gateway with users, in headless Chromium: the page itself
// asks for HTTP Basic (given as the browser's credentials, PAGE_USER/PAGE_PASSWORD); its STOMP
// CONNECT without a login is refused, so it shows its login form; a wrong password leaves the form
// up with the gateway's reason; the right one, typed in, connects (#status "connected").
import { chromium } from 'playwright-core';
import { createRun, gatewayConfig } from './lib.mjs';

const WAIT_MS = 15000;
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const run = createRun('page-login', { timeoutMs: Number(process.env.TEST_TIMEOUT_MS) || 60000 });
const { log, check, step } = run;

run.main(async () => {
  const cfg = gatewayConfig();
  const user = process.env.PAGE_USER;
  const password = process.env.PAGE_PASSWORD;
  if (!user || !password) throw new Error('set PAGE_USER and PAGE_PASSWORD');

  const browser = await step(`Chromium starts (${CHROMIUM})`, () =>
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000 }));
  run.onCleanup(() => browser.close());

  // (A browser without credentials would show its own login dialog; headless Chromium fails the navigation instead.)
  const refused = await fetch(`${cfg.http}/`);
  check('without credentials the page answers 401 asking for Basic', refused.status === 401 && /^Basic /.test(refused.headers.get('www-authenticate') ?? ''),
    `status ${refused.status}, WWW-Authenticate ${refused.headers.get('www-authenticate')}`);

  const context = await browser.newContext({ httpCredentials: { username: user, password } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err));
  const response = await step('the message view loads with HTTP Basic', () => page.goto(`${cfg.http}/messages.html`, { waitUntil: 'load', timeout: WAIT_MS }));
  check('... with HTTP 200', response?.status() === 200, `status ${response?.status()}`);

  await step('the anonymous STOMP CONNECT is refused and the login form shows', () =>
    page.waitForSelector('#login-form:not([hidden])', { state: 'visible', timeout: WAIT_MS }));
  const status = await page.textContent('#status');
  check('#status gives the gateway\'s reason', /not authorized/.test(status ?? ''), JSON.stringify(status));

  await page.fill('#login', user);
  await page.fill('#passcode', 'not-the-password');
  await page.click('#login-button');
  await step('a wrong password brings the form back with "authentication failed"', () =>
    page.waitForFunction(() => !document.getElementById('login-form').hidden
      && /authentication failed/.test(document.getElementById('status').textContent), null, { timeout: WAIT_MS }));

  await page.fill('#login', user);
  await page.fill('#passcode', password);
  await page.click('#login-button');
  await step('the right password connects: #status shows "connected"', () =>
    page.waitForFunction(() => document.getElementById('status')?.textContent === 'connected', null, { timeout: WAIT_MS }));
  check('the login form is hidden once connected', await page.isHidden('#login-form'));
  check('no page errors', pageErrors.length === 0, pageErrors.map((e) => e.message).join('; '));
});
