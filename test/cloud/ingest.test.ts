// The fleet ingest (cloud/) end to end: real PostgreSQL (Debian), real Mosquitto, gateways with
// real ledgers and the real uplink producing every record type; two workers share the uplinks
// through one shared-subscription group. Every record stored exactly once per (gateway, seq),
// every payload passes its type's schema, the watermark is acked only after commit, and two
// transactions holding batches of one gateway never ack past a hole.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { silentLogger } from '../../gateway/core/log.js';
import { splitNew } from '../../cloud/copy-records.js';
import { KnownGateways } from '../../cloud/known-gateways.js';
import { recordRows } from '../../cloud/rows.js';
import { ingest, ingestRows, type IngestBatch } from '../../cloud/store.js';
import { IngestWorker } from '../../cloud/worker.js';
import type { Broker } from '../helpers/mosquitto.js';
import type { Postgres } from '../helpers/postgres.js';
import { RoomActivity, seededRng } from '../fleet/room-activity.js';
import { tempDir, waitFor } from '../uplink/helpers.js';
import { cloudConfig, gateway, summary, type Gateway, startCloudDeps, stopCloudDeps } from './helpers.js';

let broker: Broker;
let postgres: Postgres;
let pool: pg.Pool;
before(async () => {
  ({ broker, postgres, pool } = await startCloudDeps(4));
});
after(() => stopCloudDeps({ broker, postgres, pool }));

test('ingest: two workers, three gateways, every record type: each stored once in seq order, all payloads valid, all acked', async () => {
  const t = tempDir();
  const workers = [0, 1].map(() => new IngestWorker(cloudConfig(broker.url, postgres.url), silentLogger()));
  const gws: Gateway[] = ['room-a', 'room-b', 'room-c'].map((r) => gateway(r, t.file(`${r}.db`), broker.url, { batch: { maxCount: 15, window: 4, ackTimeoutMs: 2000, ackTimeoutMaxMs: 4000 } }));
  try {
    for (const w of workers) await w.start();
    for (const g of gws) await g.uplink.start();
    const activities = gws.map((g, i) => new RoomActivity(g.ledger, seededRng(i + 1)));
    // While the uplinks run: the kick sends as records are committed.
    for (let round = 0; round < 10; round++) {
      for (const a of activities) for (let k = 0; k < 30; k++) a.step();
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const g of gws) await waitFor(() => g.ledger.outbox.stats().depth === 0 && g.uplink.stats().inFlightBatches === 0, `${g.roomId} drained`, 60_000);
    for (const g of gws) {
      const last = g.ledger.outbox.stats().lastSeq;
      const s = await summary(pool, g.roomId);
      assert.deepEqual(s, { count: last, distinct: last, minSeq: 1, maxSeq: last, problems: 0, storedSeq: last }, g.roomId);
    }
    const types = await pool.query<{ type: string }>('SELECT DISTINCT type FROM records ORDER BY type');
    assert.deepEqual(
      types.rows.map((r) => r.type),
      ['account.topup', 'alert', 'card.status', 'decline', 'feedback', 'machine_state', 'remote_command', 'vend.capture', 'vend.credit_sent', 'vend.fault_refund', 'vend.hold', 'vend.refund'],
    );
    for (const w of workers) {
      assert.equal(w.stats.invalid, 0);
      assert.equal(w.stats.recordProblems, 0);
    }
    assert.ok(workers.every((w) => w.stats.batches > 0), 'the group shares the batches');
    // The health and status uplinks were validated and stored too.
    await waitFor(() => workers.reduce((n, w) => n + w.stats.telemetry, 0) >= 6, 'telemetry stored', 20_000);
    const gwRows = await pool.query<{ gateway_id: string; online: boolean | null; config_version: string | null; health: boolean }>(
      'SELECT gateway_id, online, config_version, health IS NOT NULL AS health FROM gateway_status ORDER BY gateway_id',
    );
    // No room config applied yet: the version they run is null (said so in status and health).
    assert.deepEqual(gwRows.rows.map((r) => [r.gateway_id, r.online, r.config_version, r.health]), [['room-a', true, null, true], ['room-b', true, null, true], ['room-c', true, null, true]]);
  } finally {
    for (const g of gws) {
      await g.uplink.stop();
      g.ledger.close();
    }
    for (const w of workers) await w.stop();
    t.cleanup();
  }
});

const batch = (g: string, after: number, from: number, to: number): IngestBatch => {
  const seq = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  return {
    roomId: g, gatewayId: g, afterSeq: after, ackedSeq: 0, fromSeq: from, toSeq: to,
    rows: ingestRows(g, seq.map((s) => ({ seq: s, id: `id-${s}`, type: 'machine_state', money: false, createdMs: 1, payload: '{}', problem: null }))),
  };
};

test('ingest: transactions holding batches of one gateway never ack past a hole; the hole filled acks all; resends dedupe', async () => {
  const g = 'hole-1';
  const r2 = await ingest(pool, [batch(g, 10, 11, 20)], 64);
  assert.deepEqual(r2.acks, [], 'after a hole: stored, not acked');
  assert.equal(r2.stored, 10);
  const [r3, r1] = await Promise.all([ingest(pool, [batch(g, 20, 21, 30)], 64), ingest(pool, [batch(g, 0, 1, 10)], 64)]);
  const acked = [...r3.acks, ...r1.acks].map((a) => a.upToSeq);
  assert.ok(acked.includes(30), `the last of the two to commit acks 30 (${acked.join(',')})`);
  assert.ok(acked.every((u) => u === 10 || u === 30));
  const again = await ingest(pool, [batch(g, 0, 1, 10), batch(g, 10, 11, 20)], 64);
  assert.deepEqual(again.acks.map((a) => a.upToSeq), [30]);
  assert.equal(again.stored, 0);
  assert.equal(again.duplicates, 20);
  assert.deepEqual(await summary(pool, g), { count: 30, distinct: 30, minSeq: 1, maxSeq: 30, problems: 0, storedSeq: 30 });
});

test('ingest: 40 batches of 8 gateways committed by 6 concurrent callers in random order end whole, once each', async () => {
  const rng = seededRng(42);
  const all: IngestBatch[] = [];
  for (let gi = 0; gi < 8; gi++) for (let i = 0; i < 5; i++) all.push(batch(`mix-${gi}`, i * 7, i * 7 + 1, i * 7 + 7));
  all.sort(() => rng() - 0.5);
  const lanes = Array.from({ length: 6 }, (_, i) => all.filter((_, k) => k % 6 === i));
  await Promise.all(lanes.map(async (lane) => {
    for (let i = 0; i < lane.length; i += 2) await ingest(pool, lane.slice(i, i + 2), 64);
  }));
  for (let gi = 0; gi < 8; gi++) assert.deepEqual(await summary(pool, `mix-${gi}`), { count: 35, distinct: 35, minSeq: 1, maxSeq: 35, problems: 0, storedSeq: 35 });
});

for (const write of ['copy', 'insert'] as const) {
  test(`ingest by ${write}: ids, types, problems and payloads with quotes, backslashes, braces, commas, tabs, newlines, blanks, NULL, \\N and non-ASCII are stored as sent`, async () => {
    const g = `odd "gw" \\ {1,2}\t${write}`;
    const odd = ['NULL', 'a"b', 'c\\d', '{x,y}', ' lead', '', 'é ✓', 'null', 'tab\there', 'line\nbreak\r', '\\N'];
    const b = batch(g, 0, 1, odd.length);
    const records = odd.map((x, i) => ({ seq: i + 1, id: `id ${x}`, type: `t${x}`, problem: i % 2 === 0 ? null : x, money: i % 3 === 0, createdMs: 1_765_000_000_000 + i, payload: JSON.stringify({ text: x, list: [x] }) }));
    b.rows = ingestRows(g, records);
    assert.deepEqual(recordRows(b.rows), records, 'the columns read back from the COPY text as they went in');
    const r = await ingest(pool, [b], 64, write);
    assert.deepEqual(r.acks.map((a) => a.upToSeq), [odd.length]);
    const rows = await pool.query<{ seq: string; id: string; type: string; problem: string | null; money: boolean; created_ms: string; payload: unknown }>(
      'SELECT seq, id, type, problem, money, created_ms, payload FROM records WHERE gateway_id = $1 ORDER BY seq',
      [g],
    );
    assert.deepEqual(
      rows.rows.map((x) => [Number(x.seq), x.id, x.type, x.problem, x.money, Number(x.created_ms), x.payload]),
      odd.map((x, i) => [i + 1, `id ${x}`, `t${x}`, i % 2 === 0 ? null : x, i % 3 === 0, 1_765_000_000_000 + i, { text: x, list: [x] }]),
    );
  });
}

test('ingest by copy: resends and overlaps in one group go by INSERT … ON CONFLICT; a record the stream state does not know was stored makes COPY fail and the group is stored again without it, once each', async () => {
  const g = 'copy-1';
  // One group: a batch, its resend and an overlapping one.
  const r1 = await ingest(pool, [batch(g, 0, 1, 10), batch(g, 0, 1, 10), batch(g, 5, 6, 15)], 64, 'copy');
  assert.deepEqual([r1.stored, r1.duplicates, r1.copyFallbacks], [15, 15, 0]);
  // A record above the watermark stored outside the stream state (as one in a segment forgotten beyond maxSegments).
  await pool.query("INSERT INTO records (gateway_id, seq, id, type, money, created_ms, payload) VALUES ($1, 18, 'id-18', 'machine_state', false, 1, '{}')", [g]);
  const r2 = await ingest(pool, [batch(g, 15, 16, 25)], 64, 'copy');
  assert.deepEqual([r2.stored, r2.duplicates, r2.copyFallbacks], [9, 1, 1]);
  assert.deepEqual(r2.acks.map((a) => a.upToSeq), [25]);
  assert.deepEqual(await summary(pool, g), { count: 25, distinct: 25, minSeq: 1, maxSeq: 25, problems: 0, storedSeq: 25 });
});

test('ingest with the gateways a worker knows: their INSERT left out; a known row deleted by hand is created again and the batch stored', async () => {
  const known = new KnownGateways();
  const g = 'known-1';
  assert.deepEqual(known.unknown([g]), [g]);
  const r1 = await ingest(pool, [batch(g, 0, 1, 10)], 64, 'copy', 0, known);
  assert.deepEqual(r1.acks.map((a) => a.upToSeq), [10]);
  assert.deepEqual(known.unknown([g]), [], 'learnt at the commit');
  const r2 = await ingest(pool, [batch(g, 10, 11, 20)], 64, 'copy', 0, known);
  assert.deepEqual(r2.acks.map((a) => a.upToSeq), [20]);
  await pool.query('DELETE FROM gateways WHERE gateway_id = $1', [g]);
  // The stream state went with the row: the next batch is after a hole (stored, not acked), as for a gateway never seen.
  const r3 = await ingest(pool, [batch(g, 20, 21, 30)], 64, 'copy', 0, known);
  assert.deepEqual([r3.stored, r3.acks.length], [10, 0]);
  const row = await pool.query<{ segments: unknown }>('SELECT segments FROM gateways WHERE gateway_id = $1', [g]);
  assert.deepEqual(row.rows[0]?.segments, [{ after: 20, to: 30 }]);
});

test('splitNew: COPY takes only what the stored state and the group prove new', () => {
  const state = new Map([['g', { storedSeq: 10, segments: [{ after: 20, to: 25 }] }]]);
  const { fresh, maybeStored } = splitNew([batch('g', 0, 1, 12), batch('g', 12, 13, 22), batch('g', 12, 13, 14), batch('h', 0, 1, 2)], state);
  assert.deepEqual(fresh.map((b) => b.rows.seq), [[11, 12], [13, 14, 15, 16, 17, 18, 19, 20]]);
  assert.deepEqual(maybeStored.map((b) => b.rows.seq), [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [21, 22], [13, 14], [1, 2]]);
  assert.deepEqual(fresh[1] && recordRows(fresh[1].rows).map((r) => [r.seq, r.id]), [13, 14, 15, 16, 17, 18, 19, 20].map((s) => [s, `id-${s}`]));
});
