// Example page for the gateway: a STOMP 1.2 client over WebSocket (StompJs, served from /vendor/).
// Plain script, no build step. Message text only ever reaches the page through textContent.
(function () {
  'use strict';

  var MAX_MESSAGES = 200;   // list entries kept
  var MAX_BODY_CHARS = 500; // characters of a body shown
  var RECEIPT_TIMEOUT_MS = 15000;

  function $(id) { return document.getElementById(id); }

  var ui = {
    brokerUrl: $('broker-url'),
    status: $('status'),
    subscribeForm: $('subscribe-form'),
    filter: $('filter'),
    subscription: $('subscription'),
    subscriptionState: $('subscription-state'),
    sendForm: $('send-form'),
    destination: $('destination'),
    body: $('body'),
    send: $('send'),
    sendResult: $('send-result'),
    messages: $('messages'),
    count: $('count'),
    clear: $('clear'),
    loginForm: $('login-form'),
    login: $('login'),
    passcode: $('passcode')
  };

  var brokerURL = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/stomp';
  ui.brokerUrl.textContent = brokerURL;

  if (typeof StompJs === 'undefined' || !StompJs.Client) {
    setStatus('error', 'error: STOMP library not loaded (/vendor/stomp.umd.min.js)');
    ui.send.disabled = true;
    return;
  }

  var received = 0;
  var sequence = 0;          // for receipt and subscription ids
  var activeFilter = ui.filter.value.trim() || '/topic/#';
  var subscription = null;   // the StompSubscription in use
  var pendingSend = null;    // { receipt, timer } while a SEND waits for its RECEIPT

  var client = new StompJs.Client({
    brokerURL: brokerURL,
    reconnectDelay: 3000,
    heartbeatIncoming: 10000,
    heartbeatOutgoing: 10000
  });

  client.onConnect = function (frame) {
    setStatus('connected', 'connected');
    ui.status.title = 'STOMP ' + (frame.headers.version || '?') +
      (frame.headers.server ? ', server ' + frame.headers.server : '');
    subscribeTo(activeFilter);
  };

  client.onStompError = function (frame) {
    var reason = frame.headers.message || 'ERROR frame without a message header';
    if (pendingSend) {
      finishSend('refused: ' + reason, 'refused');
    }
    if (/^(not authorized|authentication failed)/.test(reason)) {
      // Retrying the same login would only earn this address the gateway's failed-login back-off:
      // stop, and ask for a user; the login goes in the next CONNECT (login and passcode headers).
      client.deactivate();
      ui.loginForm.hidden = false;
      ui.login.focus();
    }
    // The server closes the connection after an ERROR; the client reconnects by itself.
    setStatus('error', 'error: ' + reason);
    console.warn('STOMP ERROR:', reason, frame.body);
  };

  client.onWebSocketClose = function (evt) {
    subscription = null;
    ui.subscriptionState.textContent = '';
    if (pendingSend) {
      finishSend('not confirmed: connection closed before the receipt', 'refused');
    }
    // After an ERROR frame the error text stays until the client has reconnected.
    if (ui.status.dataset.state !== 'error') {
      setStatus('disconnected', 'disconnected' + (evt && evt.code ? ' (' + evt.code + ')' : '') + ', retrying');
    }
  };

  client.onWebSocketError = function () {
    if (ui.status.dataset.state !== 'error') {
      setStatus('disconnected', 'disconnected: WebSocket error, retrying');
    }
  };

  function setStatus(state, text) {
    ui.status.dataset.state = state;
    ui.status.textContent = text;
    ui.send.disabled = state !== 'connected';
  }

  // ---- subscribing --------------------------------------------------------

  function subscribeTo(filter) {
    activeFilter = filter;
    ui.subscription.textContent = filter;
    if (!client.connected) {
      ui.subscriptionState.textContent = '(when connected)';
      return;
    }
    if (subscription) {
      try { subscription.unsubscribe(); } catch (e) { /* connection going away */ }
      subscription = null;
    }
    sequence += 1;
    var receipt = 'sub-' + sequence;
    ui.subscriptionState.textContent = '(requested)';
    ui.subscriptionState.dataset.state = 'requested';
    client.watchForReceipt(receipt, function () {
      if (activeFilter === filter) {
        ui.subscriptionState.textContent = '(active)';
        ui.subscriptionState.dataset.state = 'active';
      }
    });
    subscription = client.subscribe(filter, onMessage, { receipt: receipt });
  }

  ui.subscribeForm.addEventListener('submit', function (e) {
    e.preventDefault();
    var filter = ui.filter.value.trim();
    if (!filter) {
      ui.subscriptionState.textContent = '(enter a destination such as /topic/#)';
      return;
    }
    subscribeTo(filter);
  });

  // ---- receiving ----------------------------------------------------------

  function isTextual(contentType) {
    if (!contentType) return true; // unknown: show as text
    var t = contentType.toLowerCase();
    return t.indexOf('text/') === 0 || t.indexOf('json') >= 0 || t.indexOf('xml') >= 0 ||
      t.indexOf('javascript') >= 0 || t.indexOf('x-www-form-urlencoded') >= 0;
  }

  function bodyText(message) {
    var contentType = message.headers['content-type'];
    if (!isTextual(contentType)) {
      var bytes = message.binaryBody || new Uint8Array(0);
      var hex = [];
      for (var i = 0; i < bytes.length && i < 32; i++) {
        hex.push((bytes[i] < 16 ? '0' : '') + bytes[i].toString(16));
      }
      return '[' + bytes.length + ' bytes ' + contentType + '] ' + hex.join(' ') + (bytes.length > 32 ? ' …' : '');
    }
    var text = message.body;
    if (text.length > MAX_BODY_CHARS) {
      text = text.slice(0, MAX_BODY_CHARS) + '… (' + text.length + ' characters)';
    }
    return text;
  }

  function element(tag, className, text) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function onMessage(message) {
    received += 1;
    ui.count.textContent = String(received);

    var h = message.headers;
    var li = element('li');
    var meta = element('div', 'meta');
    meta.appendChild(element('span', 'destination', h.destination || '(no destination)'));
    meta.appendChild(element('time', 'time', new Date().toLocaleTimeString()));
    if (h['content-type']) meta.appendChild(element('span', 'content-type', h['content-type']));
    if (h['message-id']) meta.appendChild(element('span', 'message-id', '#' + h['message-id']));
    li.appendChild(meta);
    li.appendChild(element('pre', 'body', bodyText(message)));

    ui.messages.insertBefore(li, ui.messages.firstChild);
    while (ui.messages.children.length > MAX_MESSAGES) {
      ui.messages.removeChild(ui.messages.lastChild);
    }
  }

  ui.clear.addEventListener('click', function () {
    while (ui.messages.firstChild) ui.messages.removeChild(ui.messages.firstChild);
    received = 0;
    ui.count.textContent = '0';
  });

  // ---- sending ------------------------------------------------------------

  function finishSend(text, state) {
    if (!pendingSend) return;
    clearTimeout(pendingSend.timer);
    pendingSend = null;
    ui.sendResult.textContent = text;
    ui.sendResult.dataset.state = state;
    ui.send.disabled = !client.connected;
  }

  ui.sendForm.addEventListener('submit', function (e) {
    e.preventDefault();
    if (!client.connected) {
      ui.sendResult.textContent = 'not connected';
      ui.sendResult.dataset.state = 'refused';
      return;
    }
    if (pendingSend) return; // one at a time, so the result shown belongs to the last click
    var destination = ui.destination.value.trim();
    sequence += 1;
    var receipt = 'send-' + sequence;
    pendingSend = {
      receipt: receipt,
      timer: setTimeout(function () {
        finishSend('no receipt after ' + RECEIPT_TIMEOUT_MS / 1000 + ' s', 'refused');
      }, RECEIPT_TIMEOUT_MS)
    };
    ui.send.disabled = true;
    ui.sendResult.textContent = 'sending…';
    ui.sendResult.dataset.state = 'pending';
    try {
      client.watchForReceipt(receipt, function () {
        if (pendingSend && pendingSend.receipt === receipt) finishSend('stored', 'stored');
      });
      client.publish({
        destination: destination,
        body: ui.body.value,
        headers: { 'content-type': 'text/plain', receipt: receipt }
      });
    } catch (err) {
      finishSend('not sent: ' + (err && err.message ? err.message : String(err)), 'refused');
    }
  });

  ui.loginForm.addEventListener('submit', function (e) {
    e.preventDefault();
    client.connectHeaders = { login: ui.login.value, passcode: ui.passcode.value };
    ui.passcode.value = '';
    ui.loginForm.hidden = true;
    setStatus('connecting', 'connecting as ' + ui.login.value);
    client.activate();
  });

  setStatus('connecting', 'connecting');
  ui.subscription.textContent = activeFilter;
  client.activate();
})();
