// A @stomp/stompjs client in Node over the `ws` package, with promises around the parts the
// checks wait for: CONNECTED, RECEIPT, ERROR and the socket's close.
import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';
import { withTimeout, sleep } from './lib.mjs';

/**
 * Opens a STOMP session. Resolves once CONNECTED arrived; rejects when an ERROR frame or a
 * closed socket comes first. The returned object keeps every ERROR frame in `errors`.
 */
export async function stompConnect(url, { name, log, protocols = ['v12.stomp'], timeoutMs = 15000, login, passcode = '' } = {}) {
  const session = {
    name,
    socket: undefined,
    errors: [],
    closeEvent: undefined,
    connectedFrame: undefined,
  };
  let onClosed;
  session.closed = new Promise((resolve) => { onClosed = resolve; });

  const host = new URL(url).hostname;
  const client = new Client({
    webSocketFactory: () => {
      session.socket = new WebSocket(url, protocols);
      return session.socket;
    },
    connectHeaders: login === undefined ? { host } : { host, login, passcode },
    reconnectDelay: 0, // no automatic reconnection: a dropped session is a failure here
    heartbeatIncoming: 10000,
    heartbeatOutgoing: 10000,
    debug: process.env.STOMP_DEBUG ? (line) => log?.(`${name} debug: ${line}`) : () => {},
  });
  session.client = client;

  const connected = new Promise((resolve, reject) => {
    client.onConnect = (frame) => {
      session.connectedFrame = frame;
      resolve(frame);
    };
    client.onStompError = (frame) => {
      session.errors.push(frame);
      const waiter = session.errorWaiter;
      session.errorWaiter = undefined;
      waiter?.(frame);
      reject(new Error(`${name}: ERROR frame before CONNECTED: ${frame.headers.message ?? '(no message header)'} ${frame.body ?? ''}`));
    };
    client.onWebSocketError = (evt) => {
      log?.(`${name}: WebSocket error: ${evt?.message ?? evt?.error?.message ?? 'unknown'}`);
    };
    client.onWebSocketClose = (evt) => {
      session.closeEvent = evt;
      onClosed(evt);
      reject(new Error(`${name}: WebSocket closed before CONNECTED (code ${evt?.code ?? '?'}${evt?.reason ? `, ${evt.reason}` : ''})`));
    };
  });
  client.activate();
  await withTimeout(connected, timeoutMs, `${name}: STOMP CONNECTED from ${url}`);
  return session;
}

/** Waits for the next ERROR frame of a session (or one already received). */
export function nextError(session, ms, what) {
  if (session.errors.length > 0) return Promise.resolve(session.errors[0]);
  return withTimeout(new Promise((resolve) => { session.errorWaiter = resolve; }), ms, what);
}

/** Sends a frame with a receipt header; resolves with the RECEIPT frame. */
export function sendWithReceipt(session, destination, body, receipt, headers = {}) {
  const got = new Promise((resolve) => session.client.watchForReceipt(receipt, resolve));
  session.client.publish({ destination, body, headers: { 'content-type': 'text/plain', ...headers, receipt } });
  return got;
}

/** Subscribes with a receipt header; resolves with { subscription, receiptFrame } once the RECEIPT arrived. */
export async function subscribeWithReceipt(session, destination, onMessage, id, ms) {
  const receipt = `${id}-receipt`;
  const got = new Promise((resolve) => session.client.watchForReceipt(receipt, resolve));
  const subscription = session.client.subscribe(destination, onMessage, { id, receipt });
  const receiptFrame = await withTimeout(got, ms, `RECEIPT for SUBSCRIBE ${destination} (receipt:${receipt})`);
  return { subscription, receiptFrame };
}

/** Ends a session: DISCONNECT (the library waits for its receipt), forced after a few seconds. */
export async function stompClose(session) {
  if (!session?.client) return;
  const { client } = session;
  if (!client.active) return;
  await Promise.race([client.deactivate(), sleep(3000)]);
  if (client.active) await Promise.race([client.deactivate({ force: true }), sleep(1000)]);
}
