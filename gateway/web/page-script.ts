// The status page's script, sent inline. Plain ES2020 for any phone browser; no template
// literals inside (this file wraps it in one). State arrives over /api/events: a snapshot
// first, then changes; remaining times count down locally between polls.
export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var machines = new Map(); // machineId -> { view, receivedAt }
  var vends = [];
  var supported = { blockCard: true, refund: true, serviceMode: true, clearFault: true };
  var SUPPORT_KEY = { 'block-card': 'blockCard', refund: 'refund', 'service-mode': 'serviceMode', 'clear-fault': 'clearFault' };
  var TOKEN_KEY = 'laundry-operator-token';
  var $ = function (id) { return document.getElementById(id); };

  function h(tag, props) {
    var el = document.createElement(tag);
    if (props) for (var k in props) {
      if (k === 'text') el.textContent = props[k];
      else if (k === 'cls') el.className = props[k];
      else el.setAttribute(k, props[k]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return el;
  }
  function money(c) { return c === null || c === undefined ? '–' : (c / 100).toFixed(2); }
  function time(ms) { return ms ? new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '–'; }
  function mmss(sec) {
    var s = Math.max(0, Math.round(sec)); var hh = Math.floor(s / 3600); var m = Math.floor((s % 3600) / 60); var r = s % 60;
    return (hh ? hh + ':' + (m < 10 ? '0' : '') : '') + m + ':' + (r < 10 ? '0' : '') + r;
  }
  function age(ms) { if (ms === null || ms === undefined) return '–'; var s = Math.round(ms / 1000); return s < 120 ? s + ' s' : Math.round(s / 60) + ' min'; }
  function pill(text, kind) { return h('span', { cls: 'pill ' + (kind || ''), text: text }); }
  var STATUS_KIND = { idle: '', credited: 'ok', running: 'run', paused: 'warn', done: 'ok', fault: 'bad', service: 'warn', offline: 'bad' };

  function remainingNow(entry) {
    var v = entry.view;
    if (v.remainingSec === null) return null;
    if (v.status !== 'running') return v.remainingSec;
    return Math.max(0, v.remainingSec - Math.floor((Date.now() - entry.receivedAt) / 1000));
  }

  function machineCard(v) {
    var card = h('div', { cls: 'machine s-' + v.status, 'data-machine': v.machineId });
    card.appendChild(h('div', { cls: 'top' }, h('span', { cls: 'id', text: v.machineId }), pill(v.status, STATUS_KIND[v.status])));
    card.appendChild(h('div', { cls: 'line', text: (v.name || v.kind) + (v.blocked ? ' · waiting for a vend to settle' : '') }));
    card.appendChild(h('div', { cls: 'remaining', 'data-remaining': '' }));
    var prog = v.program !== null ? v.program : v.selectedProgram;
    card.appendChild(h('div', { cls: 'line program', text: prog === null ? 'no program' : 'program ' + prog + (v.programName ? ' ' + v.programName : '') + (v.program === null ? ' (selected)' : '') }));
    if (v.door) card.appendChild(h('div', { cls: 'line door', text: 'door ' + (v.door.closed ? 'closed' : 'open') + (v.door.locked ? ', locked' : '') }));
    if (v.fault) card.appendChild(h('div', { cls: 'fault', 'data-fault': v.fault.panel, text: v.fault.panel + ' ' + v.fault.text }));
    if (v.creditCents) card.appendChild(h('div', { cls: 'line', text: 'credit ' + money(v.creditCents) }));
    var s = v.sensors; var parts = [];
    if (s.loadWeightGrams !== null) parts.push('load ' + (s.loadWeightGrams / 1000).toFixed(1) + ' kg');
    if (s.waterHardnessDh !== null) parts.push('water ' + s.waterHardnessDh + ' °dH');
    if (parts.length) card.appendChild(h('div', { cls: 'line sensors', text: parts.join(' · ') }));
    var ops = h('div', { cls: 'ops' });
    ops.appendChild(opButton(v.status === 'service' ? 'Service off' : 'Service on', 'service-mode', { machineId: v.machineId, on: v.status !== 'service' }));
    if (v.fault || v.status === 'fault') ops.appendChild(opButton('Clear fault', 'clear-fault', { machineId: v.machineId }));
    card.appendChild(ops);
    return card;
  }
  var IDLE_WORDS = { idle: 'free', credited: 'paid: press Start', done: 'done', offline: 'offline', service: 'in service' };
  function paintRemaining(entry) {
    var el = entry.card && entry.card.querySelector('[data-remaining]');
    if (!el) return;
    var v = entry.view; var r = remainingNow(entry);
    var timed = r !== null && (v.status === 'running' || v.status === 'paused' || (v.status === 'fault' && r > 0));
    el.textContent = timed ? mmss(r) : (IDLE_WORDS[v.status] || '');
    el.className = 'remaining' + (timed ? '' : ' word');
  }
  function upsertMachine(v) {
    var old = machines.get(v.machineId);
    var entry = { view: v, receivedAt: Date.now(), card: machineCard(v) };
    if (old && old.card && old.card.parentNode) old.card.parentNode.replaceChild(entry.card, old.card);
    else $('machines').appendChild(entry.card);
    machines.set(v.machineId, entry);
    paintRemaining(entry);
  }
  function onTick(t) {
    t.machines.forEach(function (m) {
      var e = machines.get(m.machineId);
      if (!e) return;
      if (e.view.status !== m.status) { e.view.status = m.status; upsertMachine(e.view); e = machines.get(m.machineId); }
      e.view.remainingSec = m.remainingSec; e.receivedAt = Date.now(); paintRemaining(e);
    });
  }

  function renderHealth(hv) {
    var c = hv.clock;
    var ck = $('clock'); ck.textContent = c.trusted ? 'clock trusted' : 'clock NOT trusted'; ck.className = 'pill ' + (c.trusted ? 'ok' : 'bad');
    var u = hv.uplink; var up = $('uplink');
    up.textContent = 'uplink ' + u.state + ' · outbox ' + u.outbox.depth; up.className = 'pill ' + (u.state === 'online' ? 'ok' : u.state === 'offline' ? 'bad' : 'warn');
    var sys = $('system'); sys.textContent = '';
    [['uplink', u.state], ['last ack', time(u.lastAckAt)], ['outbox depth', String(u.outbox.depth)], ['oldest unsent', age(u.outbox.oldestAgeMs)],
     ['acked / last seq', u.outbox.ackedSeq + ' / ' + u.outbox.lastSeq], ['dead letters', String(u.outbox.deadLetters)],
     ['clock', c.trusted ? 'trusted' : 'behind the floor: token times judged by the floor'], ['system time', new Date(c.systemSec * 1000).toISOString()],
     ['time floor', c.source === 'none' ? 'none yet (no persisted, NTP or cloud time)' : new Date(c.floorSec * 1000).toISOString() + ' (' + c.source + ')']
    ].forEach(function (p) { sys.appendChild(h('dt', { text: p[0] })); sys.appendChild(h('dd', { text: p[1] })); });
    var tb = $('buses'); tb.textContent = '';
    var byUnit = {};
    machines.forEach(function (e) { var k = e.view.busId + '/' + e.view.unit; (byUnit[k] = byUnit[k] || []).push(e.view.machineId); });
    hv.buses.forEach(function (b) {
      b.units.forEach(function (x) {
        var l = x.latencyMs;
        tb.appendChild(h('tr', { 'data-unit': String(x.unit) }, h('td', { text: b.busId + (b.portUp ? '' : ' (port down)') }), h('td', { text: String(x.unit) }),
          h('td', { text: (byUnit[b.busId + '/' + x.unit] || []).join(' ') }),
          h('td', { cls: 'num', text: l.last === null ? '–' : String(l.last) }), h('td', { cls: 'num', text: l.avg === null ? '–' : String(l.avg) }),
          h('td', { cls: 'num', text: l.max === null ? '–' : String(l.max) }), h('td', { cls: 'num', text: String(x.timeouts) }),
          h('td', { cls: 'num', text: String(x.badFrames) }), h('td', { cls: 'num', text: String(x.exceptions) }),
          h('td', null, pill(x.breaker, x.breaker === 'closed' ? 'ok' : 'bad'))));
      });
    });
  }

  function vendRow(v) {
    var state = v.state + (v.finishReason ? ' (' + v.finishReason + ')' : '');
    var amount = v.state === 'captured' ? v.capturedCents : v.state === 'refunded' ? v.refundedCents : v.amountCents;
    var op = h('td', { cls: 'opOnly' });
    if (v.state === 'captured') op.appendChild(opButton('Refund', 'refund', { vendId: v.vendId }));
    return h('tr', { 'data-vend': v.vendId }, h('td', { text: time(v.createdMs) }), h('td', { text: v.machineId + (v.program !== null ? ' p' + v.program : '') }),
      h('td', { text: v.method }), h('td', { cls: 'card', text: v.cardMask || '–' }), h('td', { cls: 'num', text: money(amount) }), h('td', { text: state }), op);
  }
  function renderVends() {
    var tb = $('vends'); tb.textContent = '';
    vends.slice(0, 20).forEach(function (v) { tb.appendChild(vendRow(v)); });
  }
  function upsertVend(v) {
    var i = vends.findIndex(function (x) { return x.vendId === v.vendId; });
    if (i >= 0) vends[i] = v; else vends.unshift(v);
    renderVends();
  }

  function addAlert(a, atEnd) {
    var ul = $('alerts');
    if (ul.querySelector('[data-seq="' + a.seq + '"]')) return;
    var li = h('li', { 'data-seq': String(a.seq), 'data-code': a.code }, h('span', { cls: 'when', text: time(a.at) }), h('strong', { text: a.code }),
      a.machineId ? ' · ' + a.machineId : null, a.message ? ' — ' + a.message : null, a.clockTrusted ? null : ' (clock untrusted)');
    if (atEnd) ul.appendChild(li); else ul.insertBefore(li, ul.firstChild);
  }
  function addFeedback(f, atEnd) {
    var ul = $('feedback-list');
    if (ul.querySelector('[data-feedback="' + f.id + '"]')) return;
    var li = h('li', { 'data-feedback': f.id }, h('span', { cls: 'when', text: time(f.at) }), h('strong', { text: f.machineId || 'room' }), ' — ', f.message,
      f.hasContact ? ' (contact left)' : null);
    if (atEnd) ul.appendChild(li); else ul.insertBefore(li, ul.firstChild);
  }

  function renderAll(s) {
    supported = s.actions.supported;
    $('room').textContent = s.room.name || s.room.id;
    var warn = $('warnings'); warn.textContent = '';
    (s.warnings || []).forEach(function (w) { warn.appendChild(h('li', { text: 'Warning: ' + w })); });
    document.title = (s.room.name || s.room.id) + ' · status';
    $('machines').textContent = ''; machines.clear();
    s.machines.forEach(upsertMachine);
    var sel = $('fb-machine'); var keep = sel.value;
    while (sel.options.length > 1) sel.remove(1);
    s.machines.forEach(function (m) { sel.appendChild(h('option', { value: m.machineId, text: m.machineId + (m.name ? ' ' + m.name : '') })); });
    sel.value = keep;
    vends = s.vends.slice(); renderVends();
    $('alerts').textContent = ''; s.alerts.forEach(function (a) { addAlert(a, true); });
    var dec = Object.keys(s.declines).sort().map(function (r) { return r + ' × ' + s.declines[r]; });
    $('declines').textContent = dec.length ? 'Declined since start: ' + dec.join(', ') : '';
    $('feedback-list').textContent = ''; s.feedback.forEach(function (f) { addFeedback(f, true); });
    renderHealth(s);
  }

  function say(id, text, ok) { var el = $(id); el.textContent = text; el.className = 'msg ' + (ok ? 'ok' : 'bad'); }
  function post(path, body, token) {
    var headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = 'Bearer ' + token;
    return fetch(path, { method: 'POST', headers: headers, body: JSON.stringify(body) }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) { return { status: r.status, body: j }; });
    });
  }
  function token() { try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; } }
  function setOperator() { document.body.classList.toggle('operator', token() !== ''); }
  function runAction(action, body) {
    return post('/api/actions/' + action, body, token()).then(function (r) {
      if (r.status === 200) say('op-result', action + ': done' + (r.body.cardMask ? ' (card ' + r.body.cardMask + ')' : ''), true);
      else say('op-result', action + ' refused (' + r.status + '): ' + (r.body.reason || r.body.error || 'error'), false);
      return r;
    }, function () { say('op-result', action + ': the gateway did not answer', false); });
  }
  function opButton(label, action, body) {
    var b = h('button', { type: 'button', cls: 'small ghost', 'data-action': action, text: label });
    if (!supported[SUPPORT_KEY[action]]) {
      // Shown so the operator knows it exists, greyed until the gateway can do it.
      b.disabled = true; b.title = 'not supported by this gateway yet';
      return b;
    }
    b.addEventListener('click', function () { runAction(action, body); });
    return b;
  }

  $('op-form').addEventListener('submit', function (e) {
    e.preventDefault();
    try { sessionStorage.setItem(TOKEN_KEY, $('op-token').value.trim()); } catch (x) { /* private mode */ }
    $('op-token').value = ''; setOperator(); say('op-result', token() ? 'token set for this tab' : 'no token', !!token());
  });
  $('op-forget').addEventListener('click', function () { try { sessionStorage.removeItem(TOKEN_KEY); } catch (x) { /* private mode */ } setOperator(); say('op-result', 'token forgotten', true); });
  $('block-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var uid = $('block-uid').value.trim();
    runAction('block-card', { uid: uid }).then(function (r) { if (r && r.status === 200) $('block-uid').value = ''; });
  });
  $('feedback-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var body = { machineId: $('fb-machine').value || null, message: $('fb-message').value };
    var contact = $('fb-contact').value.trim(); if (contact) body.contact = contact;
    $('fb-send').disabled = true;
    post('/api/feedback', body).then(function (r) {
      if (r.status === 202) { say('fb-result', 'Thank you, your report was sent.', true); $('fb-message').value = ''; $('fb-contact').value = ''; }
      else say('fb-result', 'Not sent: ' + (r.body.reason || r.body.error || r.status), false);
    }, function () { say('fb-result', 'Not sent: the gateway did not answer', false); }).then(function () { $('fb-send').disabled = false; });
  });

  function connect() {
    var es = new EventSource('/api/events');
    var live = $('live');
    es.onopen = function () { live.textContent = 'live'; live.className = 'pill ok'; };
    es.onerror = function () { live.textContent = 'reconnecting…'; live.className = 'pill warn'; };
    var on = function (name, fn) { es.addEventListener(name, function (e) { try { fn(JSON.parse(e.data)); } catch (x) { /* one bad event must not stop the page */ } }); };
    on('status', renderAll);
    on('machine', upsertMachine);
    on('tick', onTick);
    on('health', renderHealth);
    on('vend', upsertVend);
    on('alert', function (a) { addAlert(a, false); });
    on('feedback', function (f) { addFeedback(f, false); });
  }
  setInterval(function () { machines.forEach(paintRemaining); }, 1000);
  setOperator();
  connect();
})();
`;
