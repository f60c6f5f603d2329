// The ingest's cuts at their seams, on a real PostgreSQL (Debian's, a scratch cluster): the
// gateways a worker knows (cloud/known-gateways.ts) after a transaction that rolls back, and
// across a PostgreSQL restart and crash; the COPY text sent in ~64 KiB chunks
// (cloud/copy-records.ts) with multi-byte UTF-8 and escapes on both sides of every chunk
// boundary, stored byte-exact; records whose text PostgreSQL cannot hold as sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import fc from 'fast-check';
import { KnownGateways } from '../../cloud/known-gateways.js';
import { ingest, ingestRows, type IngestBatch, type RecordRow } from '../../cloud/store.js';
import { readUplink } from '../../cloud/uplinks.js';
import { isStorableText, jsonDeeperThan, MAX_JSON_DEPTH, storableJson, storableText } from '../../cloud/pg-text.js';
import { migrate } from '../../cloud/schema.js';
import { startPostgres, type Postgres } from '../helpers/postgres.js';

let postgres: Postgres;
let pool: pg.Pool;
before(async () => {
  postgres = await startPostgres();
  pool = new pg.Pool({ connectionString: postgres.url, max: 4 });
  // A restarted server ends pooled connections: the pool drops them (as the worker's does).
  pool.on('error', () => undefined);
  await migrate(pool, 4);
});
after(async () => {
  await pool.end();
  await postgres.close();
});

const rowsOf = (_g: string, from: number, to: number, payload = (s: number): string => `{"n":${s}}`): RecordRow[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i, id: `id-${from + i}`, type: 'machine_state', money: false, createdMs: 1, payload: payload(from + i), problem: null }));

const batchOf = (g: string, after: number, rows: RecordRow[]): IngestBatch => ({
  roomId: g,
  gatewayId: g,
  afterSeq: after,
  ackedSeq: 0,
  fromSeq: rows[0]?.seq ?? 1,
  toSeq: rows[rows.length - 1]?.seq ?? 1,
  rows: ingestRows(g, rows),
});

async function gatewayRows(g: string): Promise<number> {
  return (await pool.query('SELECT 1 FROM gateways WHERE gateway_id = $1', [g])).rowCount ?? 0;
}

/** As the worker does: a failed transaction tried again (here at once, a few times). */
async function ingestRetrying(batches: IngestBatch[], known: KnownGateways): Promise<Awaited<ReturnType<typeof ingest>>> {
  let last: unknown;
  for (let i = 0; i < 5; i++) {
    try {
      return await ingest(pool, batches, 64, 'copy', 0, known);
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

test('known gateways: a transaction that rolls back after inserting a new gateway\'s row leaves it unknown; the next one inserts it again', async () => {
  const g = 'rollback-1';
  const known = new KnownGateways();
  // A record trigger that refuses this gateway's rows: the transaction fails after its gateways INSERT and lock.
  await pool.query(`CREATE FUNCTION refuse_rollback_1() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.gateway_id = 'rollback-1' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$`);
  await pool.query('CREATE TRIGGER refuse_rollback_1 BEFORE INSERT ON records FOR EACH ROW EXECUTE FUNCTION refuse_rollback_1()');
  try {
    // A known gateway in the same group: its state must not change either.
    await ingest(pool, [batchOf('rollback-other', 0, rowsOf('rollback-other', 1, 3))], 64, 'copy', 0, known);
    assert.deepEqual(known.unknown(['rollback-other']), []);
    for (const write of ['copy', 'insert'] as const) {
      await assert.rejects(ingest(pool, [batchOf(g, 0, rowsOf(g, 1, 5)), batchOf('rollback-other', 3, rowsOf('rollback-other', 4, 6))], 64, write, 0, known), /refused by the test/);
      assert.deepEqual(known.unknown([g]), [g], `${write}: not learnt from a transaction that rolled back`);
      assert.equal(await gatewayRows(g), 0, `${write}: the row went with the rollback`);
    }
  } finally {
    await pool.query('DROP TRIGGER refuse_rollback_1 ON records');
    await pool.query('DROP FUNCTION refuse_rollback_1()');
  }
  const r = await ingest(pool, [batchOf(g, 0, rowsOf(g, 1, 5)), batchOf('rollback-other', 3, rowsOf('rollback-other', 4, 6))], 64, 'copy', 0, known);
  assert.deepEqual(r.acks.map((a) => [a.gatewayId, a.upToSeq]).sort(), [['rollback-1', 5], ['rollback-other', 6]]);
  assert.deepEqual(known.unknown([g]), []);
});

test('known gateways: PostgreSQL restarted, then crashed, between two batches of a known gateway: each next batch stored and acked, nothing twice', async () => {
  const g = 'restart-1';
  const known = new KnownGateways();
  const r1 = await ingest(pool, [batchOf(g, 0, rowsOf(g, 1, 10))], 64, 'copy', 0, known);
  assert.deepEqual(r1.acks.map((a) => a.upToSeq), [10]);
  assert.deepEqual(known.unknown([g]), []);

  await postgres.stop();
  await postgres.start();
  const r2 = await ingestRetrying([batchOf(g, 10, rowsOf(g, 11, 20))], known);
  assert.deepEqual(r2.acks.map((a) => a.upToSeq), [20]);

  await postgres.crash();
  await postgres.start();
  // The resend of the batch the crash may have caught, and the next one.
  const r3 = await ingestRetrying([batchOf(g, 10, rowsOf(g, 11, 20)), batchOf(g, 20, rowsOf(g, 21, 30))], known);
  assert.deepEqual(r3.acks.map((a) => a.upToSeq), [30]);
  assert.deepEqual([r3.stored, r3.duplicates], [10, 10]);
  const s = await pool.query<{ n: string; d: string; stored_seq: string }>('SELECT count(*) AS n, count(DISTINCT seq) AS d, (SELECT stored_seq FROM gateways WHERE gateway_id = $1) AS stored_seq FROM records WHERE gateway_id = $1', [g]);
  assert.deepEqual([Number(s.rows[0]?.n), Number(s.rows[0]?.d), Number(s.rows[0]?.stored_seq)], [30, 30, 30]);
});

/** Text whose UTF-8 has 1-4 byte characters and COPY escapes (backslash, tab, newline) throughout. */
function oddText(seed: number, chars: number): string {
  const alphabet = ['a', 'é', '✓', '😀', '\\', '\t', '\n', '"', '\r', 'ß', '\u2028', '\\N', '𝄞'];
  let s = '';
  let x = seed;
  for (let i = 0; i < chars; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += alphabet[x % alphabet.length] ?? 'a';
  }
  return s;
}

test('COPY in ~64 KiB chunks: records with multi-byte UTF-8 and escapes on every side of the chunk boundaries are stored byte-exact', async () => {
  const g = 'chunks-1';
  // Batches of uneven sizes (one alone above 64 KiB) so the boundaries fall at many offsets of the text.
  const sizes = [10, 700, 3, 5000, 33, 20_000, 1, 9000, 17, 400, 2, 15_000, 60_000, 7];
  const batches: IngestBatch[] = [];
  const sent: RecordRow[] = [];
  let seq = 0;
  for (const [bi, chars] of sizes.entries()) {
    const rows = [0, 1, 2].map((k) => {
      seq += 1;
      const text = oddText(seq, k === 1 ? chars : 1 + (chars % 13));
      return { seq, id: oddText(seq + 7, 20), type: `t${oddText(seq + 9, 3)}`, money: seq % 2 === 0, createdMs: seq, payload: JSON.stringify({ text, k: [Array.from(text).slice(0, 5).join('')] }), problem: k === 2 ? oddText(seq + 3, 30) : null };
    });
    sent.push(...rows);
    batches.push(batchOf(g, bi === 0 ? 0 : seq - 3, rows));
  }
  const total = batches.reduce((n, b) => n + b.rows.copy.length, 0);
  assert.ok(total > 3 * 64 * 1024, `${total} bytes of COPY text: several chunks`);
  const r = await ingest(pool, batches, 64, 'copy');
  assert.deepEqual([r.stored, r.copyFallbacks, r.acks.map((a) => a.upToSeq)], [sent.length, 0, [seq]]);
  const got = await pool.query<{ seq: string; id: string; type: string; money: boolean; created_ms: string; payload: unknown; problem: string | null; idb: Buffer; pb: Buffer | null }>(
    "SELECT seq, id, type, money, created_ms, payload, problem, convert_to(id, 'UTF8') AS idb, convert_to(problem, 'UTF8') AS pb FROM records WHERE gateway_id = $1 ORDER BY seq",
    [g],
  );
  assert.equal(got.rows.length, sent.length);
  for (const [i, row] of got.rows.entries()) {
    const want = sent[i];
    assert.ok(want !== undefined);
    assert.deepEqual([Number(row.seq), row.id, row.type, row.money, Number(row.created_ms), row.problem], [want.seq, want.id, want.type, want.money, want.createdMs, want.problem], `record ${want.seq}`);
    assert.deepEqual(row.idb, Buffer.from(want.id, 'utf8'), `record ${want.seq}: id bytes`);
    assert.deepEqual(row.pb, want.problem === null ? null : Buffer.from(want.problem, 'utf8'));
    assert.deepEqual(row.payload, JSON.parse(want.payload), `record ${want.seq}: payload`);
  }
});

const TOPIC = (room: string, name: string): string => `laundry/v1/${room}/up/${name}`;
const head = { seq: 0, hash: '' };

function wireBatch(g: string, records: { seq: number; id: string; type: string; payload: unknown }[], over: Record<string, unknown> = {}): Buffer {
  const recs = records.map((r) => ({ ...r, money: false, createdMs: 1 }));
  return Buffer.from(JSON.stringify({ v: 1, gatewayId: g, batchId: 'b', fromSeq: recs[0]?.seq, toSeq: recs[recs.length - 1]?.seq, afterSeq: 0, records: recs, auditHead: head, sentAt: 1, ...over }), 'utf8');
}

for (const write of ['copy', 'insert'] as const) {
  test(`ingest by ${write}: records with U+0000 or lone surrogates (which PostgreSQL refuses) are stored with U+FFFD and the reason, and no longer fail the group`, async () => {
    const odd: { seq: number; id: string; type: string; payload: unknown }[] = [
      { seq: 1, id: 'plain', type: 'machine_state', payload: { text: 'é ✓ 😀 \\u0000 as text' } },
      { seq: 2, id: 'nul-value', type: 'machine_state', payload: { text: 'a\u0000b', list: ['\u0000'] } },
      { seq: 3, id: 'nul-key', type: 'machine_state', payload: { 'k\u0000': 1 } },
      { seq: 4, id: 'high', type: 'machine_state', payload: { text: 'cut \ud83d' } },
      { seq: 5, id: 'low', type: 'machine_state', payload: ['\ude00 alone'] },
      { seq: 6, id: 'id\u0000nul', type: 'machine\ud800', payload: {} },
      { seq: 7, id: 'type-nul', type: 'x\u0000', payload: {} },
      // the INSERT path's payload separator (\x1e) and a line separator, which JSON and jsonb keep
      { seq: 8, id: 'separators', type: 'machine_state', payload: { text: 'a\u001eb\u2028c"d\\e' } },
    ];
    const u = readUplink(TOPIC('room-odd', 'batch'), wireBatch(`odd-${write}`, odd), 'laundry/v1');
    assert.equal(u.kind, 'batch');
    if (u.kind !== 'batch') return;
    // Every payload here fails machine_state's schema too: that reason stays, the other is added.
    assert.equal(u.problems, 8);
    // In one group with another gateway's batch, as a worker groups them.
    const other = batchOf(`odd-other-${write}`, 0, rowsOf('', 1, 4));
    const r = await ingest(pool, [u.batch, other], 64, write);
    assert.deepEqual(r.acks.map((a) => [a.gatewayId, a.upToSeq]).sort(), [[`odd-${write}`, 8], [`odd-other-${write}`, 4]]);
    const got = await pool.query<{ seq: string; id: string; type: string; payload: unknown; problem: string | null }>('SELECT seq, id, type, payload, problem FROM records WHERE gateway_id = $1 ORDER BY seq', [`odd-${write}`]);
    assert.deepEqual(
      got.rows.map((x) => [Number(x.seq), x.id, x.type, x.payload]),
      [
        [1, 'plain', 'machine_state', { text: 'é ✓ 😀 \\u0000 as text' }],
        [2, 'nul-value', 'machine_state', { text: 'a\ufffdb', list: ['\ufffd'] }],
        [3, 'nul-key', 'machine_state', { 'k\ufffd': 1 }],
        [4, 'high', 'machine_state', { text: 'cut \ufffd' }],
        [5, 'low', 'machine_state', ['\ufffd alone']],
        [6, 'id\ufffdnul', 'machine\ufffd', {}],
        [7, 'type-nul', 'x\ufffd', {}],
        [8, 'separators', 'machine_state', { text: 'a\u001eb\u2028c"d\\e' }],
      ],
    );
    assert.doesNotMatch(got.rows[0]?.problem ?? '', /cannot store/);
    for (const row of got.rows.slice(1, 7)) assert.match(row.problem ?? '', /^(schema|unknown_type): .*; (payload|id, type|type) holds U\+0000 or a lone surrogate, which PostgreSQL cannot store: stored with U\+FFFD in their place$/, `record ${row.seq}`);
    assert.match(got.rows[5]?.problem ?? '', /id, type holds/);
    assert.match(got.rows[6]?.problem ?? '', /^unknown_type: x\ufffd; type holds/, 'the reason quoting the type is storable too');
  });
}

test('a batch whose gateway id or head hash holds U+0000 or a lone surrogate is refused at read, and so is telemetry', () => {
  const odd = [{ seq: 1, id: 'plain', type: 'machine_state', payload: {} }];
  for (const [what, wire] of [
    ['gatewayId', wireBatch('gw\u0000', odd)],
    ['auditHead.hash', wireBatch('odd-2', odd, { auditHead: { seq: 0, hash: '\ud800' } })],
    ['moneyHead.hash', wireBatch('odd-2', odd, { moneyHead: { seq: 0, hash: 'a\u0000' } })],
  ] as const) {
    const refused = readUplink(TOPIC('room-odd', 'batch'), wire, 'laundry/v1');
    assert.ok(refused.kind === 'invalid' && refused.reason === `batch: ${what}: holds U+0000 or a lone surrogate, which PostgreSQL cannot store`, JSON.stringify(refused));
  }
  const status = (x: string): Buffer => Buffer.from(JSON.stringify({ v: 1, gatewayId: x, state: 'online', at: 1 }));
  assert.equal(readUplink(TOPIC('room-odd', 'status'), status('gw-ok'), 'laundry/v1').kind, 'other');
  const st = readUplink(TOPIC('room-odd', 'status'), status('gw\u0000'), 'laundry/v1');
  assert.ok(st.kind === 'invalid' && /cannot store/.test(st.reason), JSON.stringify(st));
});

test('pg-text: any string made storable is well-formed UTF-16 without U+0000, and one that was storable is kept as it is, in strings and in payloads', () => {
  const unit = fc.constantFrom('\u0000', '\ud83d', '\ude00', '😀', 'a', '\\', 'u', '0', 'd', '8', 'é', '"');
  const text = fc.string({ unit, maxLength: 12 });
  const wellFormed = (x: string): boolean => Buffer.from(x, 'utf8').toString('utf8') === x && !x.includes('\u0000');
  fc.assert(
    fc.property(text, fc.dictionary(text, fc.oneof(text, fc.array(text, { maxLength: 3 })), { maxKeys: 4 }), (s, payload) => {
      const t = storableText(s);
      assert.ok(wellFormed(t));
      assert.equal(isStorableText(s), wellFormed(s));
      if (wellFormed(s)) assert.equal(t, s);
      const json = JSON.stringify(payload);
      const out = storableJson(payload, json);
      const strings = (x: unknown): string[] => (typeof x === 'string' ? [x] : Array.isArray(x) ? x.flatMap(strings) : typeof x === 'object' && x !== null ? Object.entries(x).flatMap(([k, v]) => [k, ...strings(v)]) : []);
      assert.ok(strings(JSON.parse(out.json)).every(wellFormed), out.json);
      assert.equal(out.changed, !strings(payload).every(wellFormed));
      if (!out.changed) assert.equal(out.json, json);
    }),
    { numRuns: 1000, seed: 17 },
  );
});

test('a payload nested to MAX_JSON_DEPTH is stored; one level deeper (or far deeper: JSON.stringify throws there) refuses the batch with the reason, as telemetry', async () => {
  const nest = (d: number): string => `${'['.repeat(d)}${']'.repeat(d)}`;
  const wire = (g: string, d: number): Buffer => Buffer.from(`{"v":1,"gatewayId":"${g}","batchId":"b","fromSeq":1,"toSeq":1,"records":[{"seq":1,"id":"a","type":"machine_state","money":false,"createdMs":1,"payload":${nest(d)}}],"auditHead":{"seq":0,"hash":""},"sentAt":1}`);
  const ok = readUplink(TOPIC('room-deep', 'batch'), wire('deep-ok', MAX_JSON_DEPTH), 'laundry/v1');
  assert.equal(ok.kind, 'batch');
  if (ok.kind === 'batch') assert.deepEqual((await ingest(pool, [ok.batch], 64, 'copy')).acks.map((a) => a.upToSeq), [1]);
  for (const d of [MAX_JSON_DEPTH + 1, 20_000]) {
    const r = readUplink(TOPIC('room-deep', 'batch'), wire('deep-no', d), 'laundry/v1');
    assert.ok(r.kind === 'invalid' && r.reason === `batch: records[0].payload: nested deeper than ${MAX_JSON_DEPTH} levels, which the store does not take`, `${d}: ${JSON.stringify(r).slice(0, 200)}`);
  }
  const health = Buffer.from(`{"v":1,"gatewayId":"g","at":1,"uptimeSec":1,"outbox":{"depth":0,"oldestAgeMs":null,"lastSeq":0,"ackedSeq":0,"deadLetters":0},"link":{"connects":1,"inFlight":null},"bus":{"x":${nest(20_000)}},"configVersion":null}`);
  const h = readUplink(TOPIC('room-deep', 'health'), health, 'laundry/v1');
  assert.ok(h.kind === 'invalid' && /nested deeper/.test(h.reason), JSON.stringify(h).slice(0, 200));
});

test('jsonDeeperThan: the nesting of JSON text, brackets inside strings (escaped quotes too) not counted', () => {
  const depth = (x: unknown): number => (Array.isArray(x) ? 1 + Math.max(0, ...x.map(depth)) : typeof x === 'object' && x !== null ? 1 + Math.max(0, ...Object.values(x).map(depth)) : 0);
  const tricky = fc.constantFrom('[', ']', '{', '}', '"', '\\', '\\"', '[[', 'a');
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, fc.string({ unit: tricky, maxLength: 6 }), fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(fc.string({ unit: tricky, maxLength: 3 }), tie('node'), { maxKeys: 3 })),
  })).node;
  fc.assert(
    fc.property(value, fc.integer({ min: 0, max: 6 }), (v, max) => {
      const json = JSON.stringify(v);
      // max small: the length shortcut would skip most texts, so the scan is checked through a padded copy too
      assert.equal(jsonDeeperThan(json, max), json.length >= 2 * max + 2 && depth(v) > max, json);
      const padded = JSON.stringify([v, 'x'.repeat(20)]);
      assert.equal(jsonDeeperThan(padded, max), depth(v) + 1 > max, padded);
    }),
    { numRuns: 1000, seed: 18 },
  );
});
