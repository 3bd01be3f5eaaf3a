// One STOMP CONNECT from @stomp/stompjs over `ws`, with the login and passcode given (or none),
// to STOMP_URL (any address, not only the one GATEWAY_HTTP names). Prints one line:
//   OUTCOME: CONNECTED            the server let it in
//   OUTCOME: ERROR <message>      the server answered with an ERROR frame (its message header)
//   OUTCOME: CLOSED <code>        the socket closed with neither
// Environment: STOMP_URL (ws://host:port/stomp), STOMP_LOGIN, STOMP_PASSCODE (both optional).
import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';

const url = process.env.STOMP_URL;
if (!url) {
  console.log('OUTCOME: USAGE set STOMP_URL');
  process.exit(2);
}
const connectHeaders = { host: new URL(url).hostname };
if (process.env.STOMP_LOGIN !== undefined) connectHeaders.login = process.env.STOMP_LOGIN;
if (process.env.STOMP_PASSCODE !== undefined) connectHeaders.passcode = process.env.STOMP_PASSCODE;

const timer = setTimeout(() => { console.log('OUTCOME: TIMEOUT'); process.exit(1); }, Number(process.env.TEST_TIMEOUT_MS) || 20000);
let said = false;
function say(line) {
  if (said) return;
  said = true;
  console.log(`OUTCOME: ${line}`);
  clearTimeout(timer);
  client.deactivate().finally(() => process.exit(0));
}

const client = new Client({
  webSocketFactory: () => new WebSocket(url, ['v12.stomp']),
  connectHeaders,
  reconnectDelay: 0,
  heartbeatIncoming: 0,
  heartbeatOutgoing: 0,
  debug: () => {},
});
client.onConnect = () => say('CONNECTED');
client.onStompError = (frame) => say(`ERROR ${frame.headers.message ?? '(no message header)'}`);
client.onWebSocketClose = (evt) => say(`CLOSED ${evt?.code ?? '?'}`);
client.activate();
