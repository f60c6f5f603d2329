// Issue 13 item 1 on the fleet ingest: cloud/ keeps the chain heads a stored batch carried (the
// newest on the gateway's row, older ones thinned into gateway_heads, in the records'
// transaction) and acks the newest audit and money heads back, as the reference consumer does. Over real PostgreSQL, Mosquitto and a real gateway uplink the
// gateway keeps them as its acknowledged anchors, and the heads PostgreSQL holds prove the file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { silentLogger } from '../../gateway/core/log.js';
import { ingest, ingestRows, type IngestBatch } from '../../cloud/store.js';
import { IngestWorker } from '../../cloud/worker.js';
import type { Broker } from '../helpers/mosquitto.js';
import type { Postgres } from '../helpers/postgres.js';
import { cardHold } from '../storage/helpers.js';
import { tempDir, waitFor } from '../uplink/helpers.js';
import { cloudConfig, gateway, startCloudDeps, stopCloudDeps } from './helpers.js';

let broker: Broker;
let postgres: Postgres;
let pool: pg.Pool;
before(async () => {
  ({ broker, postgres, pool } = await startCloudDeps(2));
});
after(() => stopCloudDeps({ broker, postgres, pool }));

type Head = { seq: number; hash: string };

/** The newest heads PostgreSQL holds for the gateway: on its row. */
async function newestStored(gatewayId: string): Promise<{ audit?: Head; money?: Head }> {
  const r = await pool.query<{ audit_seq: string; audit_hash: string; money_seq: string; money_hash: string }>('SELECT audit_seq, audit_hash, money_seq, money_hash FROM gateways WHERE gateway_id = $1', [gatewayId]);
  const x = r.rows[0];
  return x === undefined ? {} : { audit: { seq: Number(x.audit_seq), hash: x.audit_hash }, money: { seq: Number(x.money_seq), hash: x.money_hash } };
}

test('heads: cloud/ keeps the heads a gateway sent and acks the newest; the gateway keeps them as anchors and they prove its file', async () => {
  const t = tempDir();
  const worker = new IngestWorker(cloudConfig(broker.url, postgres.url), silentLogger());
  const g = gateway('heads-room', t.file('ledger.db'), broker.url);
  try {
    await worker.start();
    await g.uplink.start();
    const { ledger } = g;
    for (let i = 0; i < 3; i++) {
      ledger.applyTopUp({ cloudId: `top-${i}`, accountId: 'acct', amountCents: 2000, accountVersion: i + 1 });
      const h = ledger.hold(cardHold('acct', 250));
      assert.ok(h.ok && ledger.markCreditSent(h.vendId, { seq: i + 1 }).ok && ledger.capture(h.vendId).ok);
      const last = ledger.outbox.stats().lastSeq;
      await waitFor(() => ledger.outbox.stats().ackedSeq === last, `round ${i} acked`);
    }
    const stored = await newestStored(g.roomId);
    assert.deepEqual(stored.audit, ledger.auditHead(), 'PostgreSQL holds the audit head');
    assert.deepEqual(stored.money, ledger.moneyHead(), 'PostgreSQL holds the money head');
    const kept = await pool.query<{ n: string }>("SELECT count(*) AS n FROM gateway_heads WHERE gateway_id = $1 AND chain = 'money'", [g.roomId]);
    assert.equal(Number(kept.rows[0]?.n), 1, 'thinned: one money head in gateway_heads within the hour (the first), the newest on the row');
    await waitFor(() => {
      const v = ledger.verifyAudit();
      return v.ok && v.anchors.filter((a) => a.source === 'acknowledged' && a.result === 'contained').length === 2;
    }, 'both acknowledged heads kept and proved');
    const v = ledger.verifyAudit({ audit: stored.audit, money: stored.money });
    assert.ok(v.ok, JSON.stringify(v));
    assert.deepEqual(v.anchors.map((a) => `${a.chain}/${a.source}:${a.result}`).sort(), ['audit/acknowledged:contained', 'audit/given:contained', 'money/acknowledged:contained', 'money/given:contained']);
    assert.equal(worker.stats.headConflicts, 0);
  } finally {
    await g.uplink.stop();
    g.ledger.close();
    await worker.stop();
    t.cleanup();
  }
});

const batch = (g: string, after: number, from: number, to: number, audit: Head, money?: Head): IngestBatch => {
  const seq = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  return {
    roomId: g, gatewayId: g, afterSeq: after, ackedSeq: 0, fromSeq: from, toSeq: to, auditHead: audit, ...(money ? { moneyHead: money } : {}),
    rows: ingestRows(g, seq.map((s) => ({ seq: s, id: `id-${s}`, type: 'machine_state', money: false, createdMs: 1, payload: '{}', problem: null }))),
  };
};

test('heads: kept once per (chain, seq) through resends, the newest acked (never an older one), a different hash at a kept seq reported and not kept', async () => {
  const g = 'heads-direct';
  const a5 = { seq: 5, hash: 'a5' };
  const m2 = { seq: 2, hash: 'm2' };
  const r1 = await ingest(pool, [batch(g, 0, 1, 10, a5, m2)], 64);
  assert.deepEqual(r1.acks, [{ roomId: g, gatewayId: g, upToSeq: 10, auditHead: a5, moneyHead: m2 }]);
  // A resend of the same batch and the next one: the heads of the first kept once.
  const a9 = { seq: 9, hash: 'a9' };
  const r2 = await ingest(pool, [batch(g, 0, 1, 10, a5, m2), batch(g, 10, 11, 20, a9)], 64);
  assert.deepEqual(r2.acks, [{ roomId: g, gatewayId: g, upToSeq: 20, auditHead: a9, moneyHead: m2 }], 'no money head in the second: the kept one is acked');
  assert.deepEqual(r2.headConflicts, []);
  // A late resend of the first batch alone: the ack still carries the newest, not its older heads.
  const r3 = await ingest(pool, [batch(g, 0, 1, 10, a5, m2)], 64);
  assert.deepEqual(r3.acks, [{ roomId: g, gatewayId: g, upToSeq: 20, auditHead: a9, moneyHead: m2 }]);
  // A rewritten history: seq 9 of the audit chain now has another hash.
  const r4 = await ingest(pool, [batch(g, 20, 21, 25, { seq: 9, hash: 'forged' })], 64);
  assert.deepEqual(r4.headConflicts, [{ gatewayId: g, chain: 'audit', seq: 9, hash: 'forged', storedHash: 'a9' }]);
  assert.deepEqual(r4.acks[0]?.auditHead, a9, 'the first hash kept at a seq stays');
  const rows = await pool.query<{ chain: string; seq: string; hash: string }>('SELECT chain, seq, hash FROM gateway_heads WHERE gateway_id = $1 ORDER BY chain, seq', [g]);
  assert.deepEqual(rows.rows.map((r) => `${r.chain}:${r.seq}:${r.hash}`), ['audit:5:a5', 'audit:9:a9', 'money:2:m2']);
  // A batch after a hole is stored and so are its heads; the ack waits for the hole.
  const r5 = await ingest(pool, [batch(g, 30, 31, 35, { seq: 20, hash: 'a20' }, { seq: 8, hash: 'm8' })], 64);
  assert.deepEqual(r5.acks, []);
  const r6 = await ingest(pool, [batch(g, 25, 26, 30, { seq: 15, hash: 'a15' })], 64);
  assert.deepEqual(r6.acks, [{ roomId: g, gatewayId: g, upToSeq: 35, auditHead: { seq: 20, hash: 'a20' }, moneyHead: { seq: 8, hash: 'm8' } }]);
});

test('heads thinned (headsEveryMs): the newest of each chain into gateway_heads once per period, every received head still checked against the row and the table', async () => {
  const g = 'heads-thinned';
  const HOUR = 3_600_000;
  const kept = async (): Promise<string[]> => (await pool.query<{ k: string }>("SELECT chain || ':' || seq || ':' || hash AS k FROM gateway_heads WHERE gateway_id = $1 ORDER BY chain, seq", [g])).rows.map((r) => r.k);
  // Two batches in one transaction: only the newer heads of each chain are kept.
  const r1 = await ingest(pool, [batch(g, 0, 1, 10, { seq: 5, hash: 'a5' }, { seq: 2, hash: 'm2' }), batch(g, 10, 11, 20, { seq: 9, hash: 'a9' })], 64, 'copy', HOUR);
  assert.deepEqual(r1.acks[0]?.auditHead, { seq: 9, hash: 'a9' });
  assert.deepEqual(await kept(), ['audit:9:a9', 'money:2:m2']);
  // Within the hour: nothing more in the table, the newest still moves on the row and is acked.
  const r2 = await ingest(pool, [batch(g, 20, 21, 30, { seq: 14, hash: 'a14' }, { seq: 6, hash: 'm6' })], 64, 'copy', HOUR);
  assert.deepEqual(r2.acks, [{ roomId: g, gatewayId: g, upToSeq: 30, auditHead: { seq: 14, hash: 'a14' }, moneyHead: { seq: 6, hash: 'm6' } }]);
  assert.deepEqual(await kept(), ['audit:9:a9', 'money:2:m2']);
  // A rewritten history at the row's newest seq (not in the table) and at a seq the table kept: both reported.
  const r3 = await ingest(pool, [batch(g, 30, 31, 32, { seq: 14, hash: 'forged' }, { seq: 2, hash: 'forged-m' })], 64, 'copy', HOUR);
  assert.deepEqual(r3.headConflicts.map((h) => `${h.chain}:${h.seq}:${h.storedHash}`).sort(), ['audit:14:a14', 'money:2:m2']);
  // An hour later the next transaction keeps its newest heads again.
  await pool.query("UPDATE gateways SET heads_kept_at = now() - interval '61 minutes' WHERE gateway_id = $1", [g]);
  await ingest(pool, [batch(g, 32, 33, 40, { seq: 20, hash: 'a20' }, { seq: 8, hash: 'm8' })], 64, 'copy', HOUR);
  assert.deepEqual(await kept(), ['audit:9:a9', 'audit:20:a20', 'money:2:m2', 'money:8:m8']);
});
