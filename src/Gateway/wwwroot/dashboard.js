// The status dashboard: one EventSource on /api/status/events (a snapshot a second), the last hour
// of the charts from /api/status/history once at load. Nothing is fetched from anywhere else.
'use strict';

(() => {
  const STALE_AFTER_MS = 3000; // a snapshot a second: three missed ones and the page stops calling itself live
  const HISTORY_SECONDS = 3600;
  const $ = (id) => document.getElementById(id);

  const series = { at: [], ingest: [], forward: [], backlog: [] };
  let ratesChart = null;
  let backlogChart = null;
  let lastEventAt = 0;
  let lostSince = null;

  const time = (iso) => new Date(iso).toLocaleTimeString([], { hour12: false });
  const count = (n) => n.toLocaleString('en-US');
  const bytes = (n) => {
    if (n < 0) return 'unknown';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
  };
  const duration = (s) => {
    if (s === null || s === undefined) return '–';
    if (s < 60) return `${s.toFixed(0)} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
    return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  };
  const cell = (text, className, label) => {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    if (label) td.dataset.label = label; // the phone layout shows it in place of the column's header
    return td;
  };
  const fillTable = (id, rows, toCells) => {
    const body = $(id).tBodies[0];
    body.replaceChildren(...rows.map((row) => {
      const tr = document.createElement('tr');
      tr.append(...toCells(row, tr));
      return tr;
    }));
  };

  function setLink(state, text) {
    document.body.dataset.link = state;
    $('live').textContent = text;
    $('live').dataset.state = state;
  }

  function renderUpstreams(upstreams) {
    $('no-upstreams').hidden = upstreams.length > 0;
    fillTable('upstreams', upstreams, (u, tr) => {
      tr.dataset.upstream = u.name;
      tr.dataset.state = u.state;
      const b = u.backlog;
      const waiting = `${b.exact ? '' : '≈ '}${count(b.messages)} (${bytes(b.bytes)})`;
      // A backlog that holds while messages flow out is one being kept up with, not a stuck one.
      const eta = b.drainEtaSeconds !== null ? duration(b.drainEtaSeconds)
        : b.messages === 0 ? '–' : u.forwardPerSecond > 0 ? 'keeping up' : 'not draining';
      const error = u.lastError ? `${time(u.lastError.at)} ${u.lastError.message}` : '';
      return [cell(u.name, 'name'), cell(u.state + (u.blockedReason ? ` (${u.blockedReason})` : ''), `state ${u.state}`, 'link'),
        cell(time(u.since), '', 'since'), cell(u.endpoint, 'endpoint', 'endpoint'), cell(waiting, 'waiting', 'waiting'),
        cell(duration(b.oldestAgeSeconds), '', 'oldest'), cell(eta, '', 'drain ETA'), cell(u.forwardPerSecond.toFixed(0), '', 'forwarded/s'),
        cell(error, 'error', error ? 'last error' : '')];
    });
  }

  function renderDisk(d) {
    $('disk-free').textContent = `${bytes(d.freeBytes)} free, refusing below ${bytes(d.minFreeBytes)}`;
    // The meter fills as the disk fills towards the watermark: full at the watermark.
    const meter = $('disk-meter');
    meter.max = 1;
    meter.value = d.freeBytes < 0 ? 0 : Math.min(1, d.minFreeBytes / Math.max(d.freeBytes, 1));
    meter.high = 0.5;
    meter.optimum = 0;
    $('store-count').textContent = `${count(d.storeMessages)} of ${count(d.maxMessages)}`;
    $('store-count-meter').value = d.storeMessages / d.maxMessages;
    $('store-bytes').textContent = `${bytes(d.storeBytes)} of ${bytes(d.maxBytes)}`;
    $('store-bytes-meter').value = d.storeBytes / d.maxBytes;
    $('disk-refusing').hidden = !d.refusing;
  }

  function renderFaults(faults) {
    $('no-faults').hidden = faults.length > 0;
    $('faults').replaceChildren(...faults.map((f) => {
      const li = document.createElement('li');
      li.dataset.kind = f.kind;
      const when = document.createElement('time');
      when.textContent = time(f.at);
      const kind = document.createElement('strong');
      kind.textContent = f.kind;
      li.append(when, ' ', kind, ' ', f.repeats > 1 ? `(×${f.repeats}) ` : '', f.message);
      return li;
    }));
  }

  function render(s) {
    $('gateway-id').textContent = s.gatewayId;
    $('taken-at').textContent = `as of ${time(s.takenAt)}`;
    renderUpstreams(s.upstreams);
    fillTable('routes', s.routes, (r) => [cell(r.filter), cell(r.upstream), cell((r.exact ? '' : '≈ ') + count(r.messages)), cell(bytes(r.bytes))]);
    $('ingest-rate').textContent = count(Math.round(s.rates.ingestPerSecond));
    $('forward-rate').textContent = count(Math.round(s.rates.forwardPerSecond));
    $('backlog-total').textContent = count(s.disk.storeMessages);
    renderDisk(s.disk);
    $('mqtt-count').textContent = s.connections.mqtt;
    $('stomp-count').textContent = s.connections.stomp;
    fillTable('clients', s.connections.clients, (c) => [cell(c.id), cell(c.protocol), cell(c.endpoint), cell(time(c.connectedAt))]);
    renderFaults(s.faults);
  }

  function addSample(p) {
    if (series.at.length > 0 && p.at <= series.at[series.at.length - 1]) return;
    series.at.push(p.at);
    series.ingest.push(p.ingestPerSecond);
    series.forward.push(p.forwardPerSecond);
    series.backlog.push(p.backlog);
    if (series.at.length > HISTORY_SECONDS) Object.values(series).forEach((a) => a.shift());
  }

  function chartSize(id) {
    const width = Math.max(240, $(id).clientWidth);
    return { width, height: Math.round(Math.min(220, Math.max(140, width * 0.4))) };
  }

  function makeCharts() {
    if (typeof window.uPlot !== 'function') return; // the bundle is missing: figures only
    const axes = [{}, { size: 56 }];
    ratesChart = new uPlot({ ...chartSize('rates-chart'), axes, series: [{},
      { label: 'in/s', stroke: '#1f6feb', width: 1.5 }, { label: 'forwarded/s', stroke: '#1f7a3a', width: 1.5 }] },
      [series.at, series.ingest, series.forward], $('rates-chart'));
    backlogChart = new uPlot({ ...chartSize('backlog-chart'), axes, series: [{},
      { label: 'stored', stroke: '#9a6700', width: 1.5, fill: 'rgba(154,103,0,0.1)' }] },
      [series.at, series.backlog], $('backlog-chart'));
    window.addEventListener('resize', () => {
      ratesChart.setSize(chartSize('rates-chart'));
      backlogChart.setSize(chartSize('backlog-chart'));
    });
  }

  function redrawCharts() {
    ratesChart?.setData([series.at, series.ingest, series.forward]);
    backlogChart?.setData([series.at, series.backlog]);
  }

  function onLost() {
    if (lostSince === null) lostSince = new Date();
    const banner = $('lost-banner');
    banner.textContent = `Lost the gateway since ${lostSince.toLocaleTimeString([], { hour12: false })}, retrying. What is shown below is not live.`;
    banner.hidden = false;
    setLink('lost', 'not live');
  }

  function onSnapshot(event) {
    const snapshot = JSON.parse(event.data);
    lastEventAt = Date.now();
    lostSince = null;
    $('lost-banner').hidden = true;
    setLink('live', 'live');
    render(snapshot);
    addSample(snapshot.sample);
    redrawCharts();
  }

  function watchStaleness() {
    setInterval(() => {
      if (document.body.dataset.link === 'live' && Date.now() - lastEventAt > STALE_AFTER_MS) setLink('stale', 'not live (no update)');
    }, 500);
  }

  async function start() {
    makeCharts();
    try {
      const response = await fetch('/api/status/history', { cache: 'no-store' });
      if (response.ok) (await response.json()).forEach(addSample);
      redrawCharts();
    } catch {
      // the stream below says whether the gateway is there
    }
    const events = new EventSource('/api/status/events');
    events.onmessage = onSnapshot;
    events.onerror = onLost; // EventSource reconnects by itself (the stream's retry: 2 s)
    watchStaleness();
  }

  start();
})();
