// Shared pieces of the Node checks: configuration from the environment, progress lines,
// a whole-run timeout, counted checks and small waiting helpers.
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';

/** Where the gateway is, from the environment (see README.md). */
export function gatewayConfig() {
  const http = (process.env.GATEWAY_HTTP || 'http://127.0.0.1:8080').replace(/\/+$/, '');
  let httpUrl;
  try {
    httpUrl = new URL(http);
  } catch {
    throw new Error(`GATEWAY_HTTP is not a URL: ${JSON.stringify(http)}`);
  }
  const wsBase = `${httpUrl.protocol === 'https:' ? 'wss:' : 'ws:'}//${httpUrl.host}`;
  const mqttTcp = process.env.GATEWAY_MQTT || 'mqtt://127.0.0.1:1883';
  const prefix = process.env.BROWSER_TOPIC_PREFIX || 'browser';
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) {
    throw new Error(`BROWSER_TOPIC_PREFIX must be letters, digits, '_' or '-' (one topic level), got ${JSON.stringify(prefix)}`);
  }
  return {
    http,
    stompUrl: `${wsBase}/stomp`,
    mqttWsUrl: `${wsBase}/mqtt`,
    mqttTcp,
    prefix,
  };
}

/** A short random token that tells this run's messages from any other's. */
export function nonce() {
  return randomBytes(5).toString('hex');
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs one check program: progress lines with elapsed time, counted checks, one overall
 * timeout, cleanup hooks, and a closing line "<name>: N passed, N failed". Exit code 0 only
 * when every check passed.
 */
export function createRun(name, { timeoutMs = 60000 } = {}) {
  const started = Date.now();
  const cleanups = [];
  let passed = 0;
  let failed = 0;
  let finished = false;

  const stamp = () => `${((Date.now() - started) / 1000).toFixed(2).padStart(6)}s`;
  const log = (line) => console.log(`[${name} ${stamp()}] ${line}`);

  async function finish(code, reason) {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    if (reason) console.error(`[${name} ${stamp()}] FAIL: ${reason}`);
    // Whatever a cleanup does, the process ends within 15 s from here.
    setTimeout(() => {
      console.log(`${name}: ${passed} passed, ${failed} failed`);
      process.exit(code || 1);
    }, 15000).unref();
    // Cleanups run newest first and each gets a few seconds at most.
    for (const fn of cleanups.reverse()) {
      try {
        await Promise.race([Promise.resolve().then(fn), sleep(5000)]);
      } catch (err) {
        log(`cleanup: ${err?.message ?? err}`);
      }
    }
    console.log(`${name}: ${passed} passed, ${failed} failed`);
    process.exit(code);
  }

  const timer = setTimeout(() => {
    failed += 1;
    finish(1, `timed out after ${timeoutMs / 1000} s (overall limit); the last progress line above shows where it stopped`);
  }, timeoutMs);

  process.on('unhandledRejection', (err) => {
    failed += 1;
    finish(1, `unhandled rejection: ${err?.stack ?? err}`);
  });
  process.on('uncaughtException', (err) => {
    failed += 1;
    finish(1, `uncaught exception: ${err?.stack ?? err}`);
  });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      failed += 1;
      finish(130, `stopped by ${signal}`);
    });
  }

  return {
    log,
    /** True once any check failed or the run timed out. */
    hasFailed() {
      return failed > 0;
    },
    /** Registers something to close at the end, pass or fail. */
    onCleanup(fn) {
      cleanups.push(fn);
    },
    /** A named check that must hold; throws (ending the run) when it does not. */
    check(what, condition, detail) {
      if (condition) {
        passed += 1;
        log(`ok   ${what}`);
        return;
      }
      failed += 1;
      const err = new Error(`${what}${detail ? `: ${detail}` : ''}`);
      err.counted = true;
      throw err;
    },
    /** A named check that must hold, given as an async step; a throw is the failure. */
    async step(what, fn) {
      try {
        const result = await fn();
        passed += 1;
        log(`ok   ${what}`);
        return result;
      } catch (err) {
        if (!err.counted) failed += 1;
        const wrapped = new Error(`${what}: ${err?.message ?? err}`);
        wrapped.counted = true;
        wrapped.cause = err;
        throw wrapped;
      }
    },
    /** Runs the program body and exits. */
    async main(body) {
      try {
        await body();
        await finish(failed === 0 ? 0 : 1, failed === 0 ? undefined : 'some checks failed');
      } catch (err) {
        if (!err?.counted) failed += 1;
        await finish(1, err?.message ?? String(err));
      }
    },
  };
}

/** Resolves with fn's value, or rejects with a message naming what did not happen in time. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Collects items (received messages) and lets a caller wait until a predicate over all of
 * them holds; on timeout the error lists what had arrived.
 */
export class Collector {
  constructor(label) {
    this.label = label;
    this.items = [];
    this.waiters = [];
  }

  push(item) {
    this.items.push(item);
    for (const w of [...this.waiters]) {
      if (w.predicate(this.items)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(this.items);
      }
    }
  }

  /** Waits until predicate(items) is true. */
  until(predicate, ms, what, describe = (items) => `${items.length} item(s)`) {
    if (predicate(this.items)) return Promise.resolve(this.items);
    return new Promise((resolve, reject) => {
      const waiter = { predicate, resolve };
      waiter.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`${this.label}: ${what} not reached after ${ms / 1000} s; had ${describe(this.items)}`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  /** Waits until at least n items satisfy filter. */
  count(n, ms, filter = () => true) {
    return this.until(
      (items) => items.filter(filter).length >= n,
      ms,
      `${n} message(s)`,
      (items) => `${items.filter(filter).length} matching of ${items.length} received`,
    ).then((items) => items.filter(filter));
  }
}

/** Checks that received bodies are exactly the expected ones in the same order; returns a problem or null. */
export function orderProblem(expected, got) {
  if (got.length !== expected.length) {
    return `expected ${expected.length} messages, got ${got.length}: ${summarize(got)}`;
  }
  for (let i = 0; i < expected.length; i++) {
    if (got[i] !== expected[i]) {
      return `position ${i}: expected ${JSON.stringify(expected[i])}, got ${JSON.stringify(got[i])}; order received: ${summarize(got)}`;
    }
  }
  return null;
}

function summarize(list) {
  const shown = list.slice(0, 25).map((s) => JSON.stringify(s)).join(', ');
  return `[${shown}${list.length > 25 ? ', …' : ''}]`;
}

/**
 * An MQTT.js client connected (CONNACK received), without automatic reconnection so that a
 * broken connection shows up as a failure rather than a retry loop. The CONNACK packet is kept
 * as client.connack (its properties carry the server's Receive Maximum under MQTT 5).
 */
export async function mqttConnect(url, { clientId, protocolVersion = 5, log, ...extra } = {}) {
  const client = mqtt.connect(url, {
    clientId,
    protocolVersion,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 10000,
    keepalive: 30,
    ...extra,
  });
  const connected = new Promise((resolve, reject) => {
    client.once('connect', (connack) => {
      client.connack = connack;
      resolve(client);
    });
    client.once('error', (err) => reject(new Error(`MQTT ${clientId}: ${err.message}`)));
    client.once('close', () => reject(new Error(`MQTT ${clientId}: connection closed before CONNACK`)));
  });
  try {
    await withTimeout(connected, 15000, `MQTT connect to ${url}`);
  } catch (err) {
    client.end(true);
    throw err;
  }
  client.on('error', (err) => log?.(`MQTT ${clientId}: error: ${err.message}`));
  client.on('close', () => {
    if (!client.endedByTest) log?.(`MQTT ${clientId}: connection closed by the other side`);
  });
  return client;
}

/**
 * Publishes the bodies in order at the given QoS, keeping as many unacknowledged as the server's
 * Receive Maximum allows (MQTT 5; unlimited under 3.1.1). Resolves when every one is acknowledged.
 */
export async function publishAll(client, topic, bodies, qos = 1) {
  const max = client.connack?.properties?.receiveMaximum ?? bodies.length;
  const window = Math.max(1, Math.min(max, bodies.length));
  const inFlight = new Set();
  for (const body of bodies) {
    if (inFlight.size >= window) await Promise.race(inFlight);
    const p = client.publishAsync(topic, body, { qos }).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  return window;
}

/** Ends an MQTT.js client, forcing it after two seconds. */
export async function mqttEnd(client) {
  if (!client) return;
  client.endedByTest = true;
  await Promise.race([client.endAsync(), sleep(2000)]);
  if (client.connected) await client.endAsync(true);
}
