// The JSON API, live events and /metrics against a real Daemon polling the simulated demo room.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEMO_CARDS } from '../../gateway/demo/room.js';
import { PassThrough } from 'node:stream';
import { createLogger, silentLogger } from '../../gateway/core/log.js';
import { WebServer, sseEventSchemas, statusSchema, statusSourceFromDaemon, PROMETHEUS_CONTENT_TYPE } from '../../gateway/web/index.js';
import { OPERATOR_TOKEN, startCycle, startWebRoom, waitFor, type WebRoom } from './harness.js';
import { parsePrometheus } from './prom-parser.js';
import { SseReader } from './sse.js';

let r: WebRoom;
let vendId = '';
const ALL_UIDS = DEMO_CARDS.map((c) => c.uid);

const logLines: string[] = [];

before(async () => {
  // Every log line of the daemon and the web feature is kept, to check none carries a secret.
  const sink = new PassThrough();
  sink.on('data', (d: Buffer) => logLines.push(d.toString()));
  r = await startWebRoom({ timeScale: 20, logger: createLogger({ level: 'debug', destination: sink }) });
  vendId = await startCycle(r, 'W1', 1, 2);
});
after(async () => {
  await r.close();
});

async function get(path: string): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(r.base + path);
  return { status: res.status, text: await res.text(), headers: res.headers };
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown>; text: string; headers: Headers }> {
  const res = await fetch(r.base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: the test looks at text
  }
  return { status: res.status, json, text, headers: res.headers };
}

const auth = { authorization: `Bearer ${OPERATOR_TOKEN}` };

function assertNoSecrets(text: string): void {
  for (const uid of ALL_UIDS) assert.ok(!text.toUpperCase().includes(uid), 'a full card UID leaked');
  assert.ok(!text.includes(OPERATOR_TOKEN), 'the operator token leaked');
}

function alertsSince(seq: number, code: string): { seq: number; reason: string | null; detail: string | null }[] {
  return r.daemon.ledger.readAudit(seq + 1, 1000).filter((a) => a.kind === 'alert' && a.reason === code);
}

test('/api/status matches its schema and shows the running machine, its vend and masked card', async () => {
  const res = await get('/api/status');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const s = statusSchema.parse(JSON.parse(res.text));
  assert.equal(s.machines.length, 16);
  const w1 = s.machines.find((m) => m.machineId === 'W1');
  assert.equal(w1?.status, 'running');
  assert.equal(w1?.programName, 'NORMAL');
  assert.ok((w1?.remainingSec ?? 0) > 0);
  assert.deepEqual(w1?.door, { closed: true, locked: true });
  const v = s.vends.find((x) => x.vendId === vendId);
  assert.equal(v?.state, 'captured');
  assert.equal(v?.cardMask, `${'*'.repeat(10)}5E80`);
  assert.equal(s.uplink.state, 'unknown');
  assert.deepEqual(s.buses.map((b) => b.units.length), [13]);
  assert.equal(s.actions.enabled, true);
  assert.deepEqual(s.actions.supported, { blockCard: true, refund: true, serviceMode: true, clearFault: true });
  assertNoSecrets(res.text);
});

test('a fault shows with its panel code and text', async () => {
  r.room.control.injectFault(8, 1);
  const w8 = await waitFor('W8 fault in /api/status', async () => {
    const s = statusSchema.parse(JSON.parse((await get('/api/status')).text));
    const m = s.machines.find((x) => x.machineId === 'W8');
    return m?.status === 'fault' ? m : undefined;
  });
  assert.deepEqual(w8.fault, { code: 1, panel: 'E01', text: 'no water inlet' });
});

test('/api/events sends a status snapshot, then ticks, machine changes and new alerts', async () => {
  const sse = new SseReader(`${r.base}/api/events`);
  await sse.open();
  try {
    const first = await sse.next(() => true);
    assert.equal(first.event, 'status');
    sseEventSchemas.status.parse(first.data);
    const tick = sseEventSchemas.tick.parse((await sse.next((m) => m.event === 'tick')).data);
    assert.ok(tick.machines.some((m) => m.machineId === 'W1'));
    sseEventSchemas.health.parse((await sse.next((m) => m.event === 'health')).data);
    r.room.control.setDoor(2, true);
    const m = await sse.next((x) => x.event === 'machine' && (x.data as { machineId?: string }).machineId === 'W2');
    assert.equal(sseEventSchemas.machine.parse(m.data).door?.closed, false);
    r.room.control.setDoor(2, false);
    const { auditSeq } = r.daemon.ledger.appendAlert({ code: 'test_alert', message: 'raised by the API test', machineId: 'W3' });
    const a = sseEventSchemas.alert.parse((await sse.next((x) => x.event === 'alert' && (x.data as { seq?: number }).seq === auditSeq)).data);
    assert.deepEqual({ code: a.code, message: a.message, machineId: a.machineId }, { code: 'test_alert', message: 'raised by the API test', machineId: 'W3' });
    assert.equal(await eventClients(), 1);
  } finally {
    await sse.close();
  }
  await waitFor('the closed stream to be forgotten', async () => (await eventClients()) === 0);
});

async function eventClients(): Promise<number | undefined> {
  return parsePrometheus((await get('/metrics')).text).get('laundry_web_event_clients')?.samples[0]?.value;
}

test('/metrics is valid Prometheus text with bus histograms, vend counts, outbox, clock and memory', async () => {
  const res = await get('/metrics');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), PROMETHEUS_CONTENT_TYPE);
  const fams = parsePrometheus(res.text);
  const fam = (name: string) => {
    const f = fams.get(name);
    assert.ok(f, `missing ${name}`);
    return f;
  };
  const hist = fam('laundry_bus_request_duration_seconds');
  assert.equal(hist.type, 'histogram');
  const count1 = hist.samples.find((s) => s.name.endsWith('_count') && s.labels.unit === '1' && s.labels.bus === 'bus1');
  assert.ok((count1?.value ?? 0) > 0);
  for (const [name, type] of [
    ['laundry_bus_requests_total', 'counter'],
    ['laundry_bus_errors_total', 'counter'],
    ['laundry_bus_breaker_state', 'gauge'],
    ['laundry_outbox_depth', 'gauge'],
    ['laundry_outbox_oldest_age_seconds', 'gauge'],
    ['laundry_clock_trusted', 'gauge'],
    ['process_resident_memory_bytes', 'gauge'],
    ['nodejs_heap_used_bytes', 'gauge'],
    ['laundry_machines', 'gauge'],
  ] as const) {
    assert.equal(fam(name).type, type, name);
    assert.ok(fam(name).help.length > 0);
  }
  assert.deepEqual(new Set(fam('laundry_bus_errors_total').samples.map((s) => s.labels.kind)), new Set(['timeout', 'bad_frame', 'exception', 'breaker_rejected', 'port_down']));
  assert.equal(fam('laundry_vends_captured_total').samples.find((s) => s.labels.method === 'card')?.value, 1);
  assert.equal(fam('laundry_vends_captured_cents_total').samples.find((s) => s.labels.method === 'card')?.value, 350);
  assert.equal(fam('laundry_machines').samples.find((s) => s.labels.status === 'running')?.value, 1);
  assert.ok((fam('laundry_outbox_depth').samples[0]?.value ?? 0) > 0, 'the vend is still in the outbox: no uplink here');
  // qemu-user reports an RSS of 0 for every process (scripts/arm64/test.sh): the gauge can only show what the platform says.
  if (process.memoryUsage().rss > 0) assert.ok((fam('process_resident_memory_bytes').samples[0]?.value ?? 0) > 0);
  else assert.ok(fam('process_resident_memory_bytes').samples.length === 1);
  assertNoSecrets(res.text);
});

test('actions without the token are refused with 401 and audited; with it, a card is blocked', async () => {
  const head = r.daemon.ledger.auditHead().seq;
  const uid = DEMO_CARDS[1].uid;
  const none = await post('/api/actions/block-card', { uid });
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
  const wrong = await post('/api/actions/block-card', { uid }, { authorization: 'Bearer not-the-operator-token' });
  assert.equal(wrong.status, 401);
  assert.equal(r.daemon.ledger.lookupCard(uid)?.status, 'active');
  const refused = alertsSince(head, 'web_action_refused');
  assert.equal(refused.length, 2);
  assert.match(refused[0]?.detail ?? '', /"why":"no bearer token"/);
  assert.match(refused[1]?.detail ?? '', /"why":"wrong token"/);

  const ok = await post('/api/actions/block-card', { uid }, auth);
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.json, { ok: true, action: 'block-card', cardMask: `${'*'.repeat(10)}F501`, status: 'blocked' });
  assert.equal(r.daemon.ledger.lookupCard(uid)?.status, 'blocked');
  const done = alertsSince(head, 'web_action');
  assert.equal(done.length, 1);
  assert.ok(r.daemon.ledger.readAudit(head + 1, 100).some((a) => a.kind === 'card_status' && a.result === 'blocked'));
  for (const res of [none, wrong, ok]) assertNoSecrets(res.text);
  for (const a of r.daemon.ledger.readAudit(head + 1, 100)) assertNoSecrets(JSON.stringify(a));

  const bad = await post('/api/actions/block-card', { uid: 'not hex!' }, auth);
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error, 'invalid');
});

test('operator actions: refund of a captured vend, service mode and clear fault reach the ledger and the device', async () => {
  const v = r.daemon.ledger.getVend(vendId);
  assert.equal(v?.state, 'captured');
  const refund = await post('/api/actions/refund', { vendId }, auth);
  assert.equal(refund.status, 200, refund.text);
  assert.equal((refund.json.detail as Record<string, unknown> | undefined)?.refundedCents ?? refund.json.refundedCents, v?.capturedCents);
  const again = await post('/api/actions/refund', { vendId }, auth);
  assert.equal(again.status, 409, again.text);
  assert.equal((await post('/api/actions/refund', { vendId: 'no-such-vend' }, auth)).status, 404);

  const on = await post('/api/actions/service-mode', { machineId: 'W2', on: true }, auth);
  assert.equal(on.status, 200, on.text);
  await waitFor('W2 in service', () => r.daemon.machines.state('W2')?.status === 'service');
  const off = await post('/api/actions/service-mode', { machineId: 'W2', on: false }, auth);
  assert.equal(off.status, 200, off.text);
  await waitFor('W2 idle again', () => r.daemon.machines.state('W2')?.status === 'idle');
  // CLEAR_FAULT on a machine without a fault: the device refuses (result 7), and says so.
  const clear = await post('/api/actions/clear-fault', { machineId: 'W8' }, auth);
  assert.equal(clear.status, 409, clear.text);
  assert.equal((await post('/api/actions/clear-fault', { machineId: 'X9' }, auth)).status, 404);
  assert.equal((await post('/api/actions/clear-fault', '{"machineId":', auth)).status, 400);
});

test('problem reports: validated, queued upstream, listed without the contact, rate-limited per client', async () => {
  const before = r.daemon.ledger.outbox.stats().lastSeq;
  const ok = await post('/api/feedback', { machineId: 'W4', message: 'Door handle is loose', contact: 'me@example.org' });
  assert.equal(ok.status, 202, ok.text);
  const batch = r.daemon.ledger.outbox.nextBatch({ maxCount: 10_000, maxBytes: 10_000_000 });
  const rec = batch.records.find((x) => x.seq > before && x.type === 'feedback');
  assert.deepEqual(rec?.payload, { id: ok.json.id, at: (rec?.payload as { at: number }).at, machineId: 'W4', message: 'Door handle is loose', contact: 'me@example.org' });
  const s = statusSchema.parse(JSON.parse((await get('/api/status')).text));
  assert.deepEqual(
    s.feedback.map((f) => ({ machineId: f.machineId, message: f.message, hasContact: f.hasContact })),
    [{ machineId: 'W4', message: 'Door handle is loose', hasContact: true }],
  );
  assert.ok(!JSON.stringify(s).includes('me@example.org'));

  const badJson = await post('/api/feedback', '{"message": "x",');
  assert.equal(badJson.status, 400);
  assert.equal(badJson.json.error, 'bad_json');
  assert.match(String(badJson.json.reason), /not valid JSON/);
  assert.equal((await post('/api/feedback', { message: 'hi there', machineId: 'nope' })).status, 400);
  assert.equal((await post('/api/feedback', { message: '' })).status, 400);
  assert.equal((await post('/api/feedback', { message: 'fine text', extra: 1 })).status, 400);
  const big = await post('/api/feedback', { message: 'x'.repeat(9000) });
  assert.equal(big.status, 413);
  const form = await fetch(`${r.base}/api/feedback`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'message=hello' });
  assert.equal(form.status, 415);

  // 5 per client per 10 minutes: one used above, four more, then refused.
  for (let i = 0; i < 4; i++) assert.equal((await post('/api/feedback', { machineId: null, message: `report number ${i}` })).status, 202);
  const limited = await post('/api/feedback', { message: 'one too many' });
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers.get('retry-after')) > 0);
});

test('odd requests get an answer and never take the server down', async () => {
  assert.equal((await get('/nope')).status, 404);
  assert.equal((await fetch(`${r.base}/api/status`, { method: 'DELETE' })).status, 405);
  assert.equal((await fetch(`${r.base}/api/feedback`)).status, 405);
  assert.equal((await get('/%E0%A4%A')).status, 404);
  const { connect } = await import('node:net');
  const addr = r.web.address();
  assert.ok(addr);
  await new Promise<void>((resolve) => {
    const sock = connect(addr.port, addr.host, () => sock.end('GARBAGE \u0000\u0001 NOT HTTP\r\n\r\n'));
    sock.on('data', () => undefined);
    sock.on('close', () => resolve());
    sock.on('error', () => resolve());
  });
  const head = await fetch(`${r.base}/`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  const page = await get('/');
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  assert.match(page.text, /<script nonce="/);
  assert.equal((await get('/healthz')).status, 200);
});

test('random requests (fast-check) always get an HTTP answer and leak nothing', async () => {
  const paths = ['/', '/api/status', '/metrics', '/healthz', '/api/feedback', '/api/actions/block-card', '/api/actions/refund', '/api/actions/service-mode', '/api/actions/clear-fault', '/api/actions/nope', '/api/../metrics', '/x?y=%00'];
  const body = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.json({ maxDepth: 3 }),
    fc.record({ uid: fc.string({ maxLength: 40 }), vendId: fc.string({ maxLength: 80 }), machineId: fc.string({ maxLength: 80 }), message: fc.string({ maxLength: 1200 }), on: fc.anything() }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
      fc.constantFrom(...paths),
      fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'APPLICATION/JSON', ''),
      fc.option(fc.constantFrom(`Bearer ${OPERATOR_TOKEN}`, 'Bearer x', 'Basic Zm9vOmJhcg==', 'Bearer', ''), { nil: undefined }),
      body,
      async (method, path, type, authorization, text) => {
        const headers: Record<string, string> = {};
        if (type) headers['content-type'] = type;
        if (authorization !== undefined) headers.authorization = authorization;
        const res = await fetch(r.base + path, { method, headers, ...(method === 'GET' ? {} : { body: text }) });
        const out = await res.text();
        assert.ok(res.status >= 200 && res.status < 600);
        if (res.status >= 400) assert.doesNotThrow(() => JSON.parse(out), `${method} ${path} -> ${res.status}: ${out.slice(0, 100)}`);
        assertNoSecrets(out);
      },
    ),
    { numRuns: 150 },
  );
  assert.equal((await get('/healthz')).status, 200);
  statusSchema.parse(JSON.parse((await get('/api/status')).text));
});

test('too many wrong tokens lock the address out, even with the right token, for a while', async () => {
  let status = 0;
  for (let i = 0; i < 12 && status !== 429; i++) {
    status = (await post('/api/actions/block-card', { uid: '0011223344' }, { authorization: `Bearer wrong-${i}` })).status;
  }
  assert.equal(status, 429);
  assert.equal((await post('/api/actions/block-card', { uid: '0011223344' }, auth)).status, 429);
});

test('the uplink shows online/offline from an uplink probe, and the last ack once the acked seq moves', () => {
  let connected = true;
  const src = statusSourceFromDaemon(r.daemon, { uplink: { stats: () => ({ connected }) } });
  assert.deepEqual(src.uplink(), { state: 'online', lastAckAt: null });
  connected = false;
  assert.equal(src.uplink().state, 'offline');
  const acked = r.daemon.ledger.outbox.stats().ackedSeq;
  r.daemon.ledger.outbox.ack(acked + 1);
  assert.equal(typeof src.uplink().lastAckAt, 'number');
  assert.equal(statusSourceFromDaemon(r.daemon).uplink().state, 'unknown');
});

test('a second server on a port in use fails to start, cleanly', async () => {
  const addr = r.web.address();
  assert.ok(addr);
  const dup = new WebServer({ config: { host: addr.host, port: addr.port }, source: statusSourceFromDaemon(r.daemon), logger: silentLogger() });
  await assert.rejects(dup.start(), /EADDRINUSE/);
  assert.equal(dup.address(), null);
  await dup.stop();
});

test('no log line carries a card UID or the operator token', () => {
  assert.ok(logLines.some((l) => l.includes('operator action refused')));
  assert.ok(logLines.some((l) => l.includes('problem reported')));
  for (const l of logLines) assertNoSecrets(l);
});
