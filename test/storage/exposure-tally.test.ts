// The exposure tally (migration 9) must give exactly what the sum over the vends gives, whatever
// the vends go through: holds, credits, captures (partial), refunds (partial), refunds of
// captured vends, token vends, acks to any point, dead letters, a reopen of the file. A seeded
// random walk checks it after every step, for every account and for the room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestLedger, tempDir } from './helpers.js';
import { openDatabase } from '../../storage/db.js';
import { silentLogger } from '../../gateway/core/log.js';
import { unsyncedExposureScan } from '../../storage/exposure.js';
import type { LedgerContext } from '../../storage/context.js';
import { GATEWAY_ID, manualClock, ROOM_SECRET } from './helpers.js';

const ACCOUNTS = ['acct-a', 'acct-b', 'acct-c'];

test('the exposure tally equals the sum over the vends through a random walk of 1 500 steps', () => {
  const t = tempDir();
  let l = openTestLedger(t.file('l.db'));
  const peek: LedgerContext = { db: openDatabase({ path: t.file('l.db'), logger: silentLogger() }), clock: manualClock(), logger: silentLogger(), gatewayId: GATEWAY_ID, bootId: 'p', roomSecret: ROOM_SECRET, clockTrusted: () => true };
  let seed = 20261125;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const open: { id: string; state: 'held' | 'sent'; amount: number }[] = [];
  const captured: { id: string; amount: number }[] = [];
  try {
    for (const a of ACCOUNTS) l.applyTopUp({ cloudId: `top-${a}`, accountId: a, amountCents: 10_000_000, accountVersion: 1 });
    for (let step = 0; step < 1500; step++) {
      const op = rnd(100);
      if (op < 30 || open.length === 0) {
        const token = rnd(10) === 0;
        const amount = 50 + rnd(500);
        const h = token
          ? l.hold({ method: 'qr', funding: 'token', machineId: 'W1', amountCents: amount, tokenId: step.toString(16).padStart(8, "0"), tokenExpiresAt: 2_000_000_000, ruleSetVersion: '1', ruleId: 'r' })
          : l.hold({ method: 'card', funding: 'account', machineId: 'W1', amountCents: amount, accountId: ACCOUNTS[rnd(ACCOUNTS.length)] ?? 'acct-a', ruleSetVersion: '1', ruleId: 'r' });
        if (h.ok) open.push({ id: h.vendId, state: 'held', amount });
      } else if (op < 50) {
        const v = open[rnd(open.length)];
        if (v?.state === 'held' && l.markCreditSent(v.id, { seq: step }).ok) v.state = 'sent';
      } else if (op < 65) {
        const i = rnd(open.length);
        const v = open[i];
        if (v?.state === 'sent') {
          const amount = rnd(3) === 0 ? rnd(v.amount + 1) : v.amount;
          assert.ok(l.capture(v.id, { amountCents: amount }).ok);
          open.splice(i, 1);
          if (amount > 0) captured.push({ id: v.id, amount });
        }
      } else if (op < 75) {
        const i = rnd(open.length);
        const v = open[i];
        if (v !== undefined) {
          assert.ok(l.refund(v.id, { reason: 'not_executed', amountCents: rnd(2) === 0 ? undefined : rnd(v.amount + 1) }).ok);
          open.splice(i, 1);
        }
      } else if (op < 80 && captured.length > 0) {
        const i = rnd(captured.length);
        const c = captured[i];
        if (c !== undefined) {
          l.refundCaptured(c.id, { reason: 'machine_fault', amountCents: 1 + rnd(c.amount) });
          captured.splice(i, 1);
        }
      } else if (op < 92) {
        const st = l.outbox.stats();
        l.outbox.ack(st.ackedSeq + rnd(st.lastSeq - st.ackedSeq + 1));
      } else if (op < 95) {
        const st = l.outbox.stats();
        if (st.lastSeq > st.ackedSeq) l.outbox.deadLetter([st.ackedSeq + 1 + rnd(st.lastSeq - st.ackedSeq)], 'rejected');
      } else if (op < 96) {
        l.close();
        l = openTestLedger(t.file('l.db'));
      }
      for (const a of [...ACCOUNTS, null]) assert.deepEqual(l.unsyncedExposure(a), unsyncedExposureScan(peek, a), `step ${step}, account ${String(a)}`);
    }
    assert.deepEqual(l.selfCheck(), { ok: true, problems: [] });
    const st = l.outbox.stats();
    l.outbox.ack(st.lastSeq);
    assert.deepEqual(l.unsyncedExposure('acct-a'), { accountCents: 0, roomCents: open.length > 0 ? l.unsyncedExposure(null).roomCents : 0 });
  } finally {
    peek.db.close();
    l.close();
    t.cleanup();
  }
});

test('a ledger from before the tally (schema 8) starts with the tally its vends sum to', () => {
  const t = tempDir();
  try {
    const l = openTestLedger(t.file('l.db'));
    l.applyTopUp({ cloudId: 'top', accountId: 'acct-a', amountCents: 100_000, accountVersion: 1 });
    const h = l.hold({ method: 'card', funding: 'account', machineId: 'W1', amountCents: 300, accountId: 'acct-a', ruleSetVersion: '1', ruleId: 'r' });
    assert.ok(h.ok);
    l.close();
    // Back to schema 8 as an older build left it: no tally table, no triggers.
    const db = openDatabase({ path: t.file('l.db'), logger: silentLogger() });
    db.exec('DROP TRIGGER vends_exposure_insert; DROP TRIGGER vends_exposure_update_out; DROP TRIGGER vends_exposure_update_in; DROP TRIGGER vends_exposure_delete; DROP TRIGGER vend_adjustments_exposure; DROP TABLE unsynced_exposure; PRAGMA user_version = 8;');
    // And what later migrations added (secure cards), or re-running them would add it twice.
    db.exec('DROP TABLE refund_intents; DROP TABLE sun_counters; ALTER TABLE cards DROP COLUMN secure; ALTER TABLE cards DROP COLUMN fleet_counter; ALTER TABLE cards DROP COLUMN key_version;');
    db.exec("DROP TABLE money_chain; DELETE FROM meta WHERE key LIKE 'money%';");
    db.exec('CREATE INDEX vends_created ON vends(created_ms); CREATE INDEX vends_last_outbox_seq ON vends(last_outbox_seq); CREATE INDEX audit_outbox_seq ON audit(outbox_seq);');
    db.close();
    const again = openTestLedger(t.file('l.db'));
    assert.deepEqual(again.unsyncedExposure('acct-a'), { accountCents: 300, roomCents: 300 });
    assert.deepEqual(again.selfCheck(), { ok: true, problems: [] });
    assert.ok(again.verifyAudit().ok, 'migration 13 chained the money rows the file held');
    again.close();
  } finally {
    t.cleanup();
  }
});

test('item 7: a refund of a captured vend lowers the exposure while the vend is unsynced, never below it once acked (migration 10)', () => {
  const t = tempDir();
  try {
    const l = openTestLedger(t.file('l.db'));
    l.applyTopUp({ cloudId: 'top', accountId: 'acct-a', amountCents: 100_000, accountVersion: 1 });
    const vend = (amountCents: number): string => {
      const h = l.hold({ method: 'card', funding: 'account', machineId: 'W1', amountCents, accountId: 'acct-a', ruleSetVersion: '1', ruleId: 'r' });
      assert.ok(h.ok && l.markCreditSent(h.vendId, { seq: 1 }).ok && l.capture(h.vendId).ok);
      return h.vendId;
    };
    const a = vend(400);
    assert.deepEqual(l.unsyncedExposure('acct-a'), { accountCents: 400, roomCents: 400 });
    assert.ok(l.refundCaptured(a, { reason: 'fault_abort', amountCents: 150 }).ok);
    assert.deepEqual(l.unsyncedExposure('acct-a'), { accountCents: 250, roomCents: 250 }, 'the fault refund counts');
    assert.deepEqual(l.selfCheck(), { ok: true, problems: [] });
    l.outbox.ack(l.outbox.stats().lastSeq);
    assert.deepEqual(l.unsyncedExposure('acct-a'), { accountCents: 0, roomCents: 0 });
    const b = vend(300);
    l.outbox.ack(l.outbox.stats().lastSeq);
    assert.ok(l.refundCaptured(b, { reason: 'remote_cancel', amountCents: 300 }).ok);
    assert.deepEqual(l.unsyncedExposure('acct-a'), { accountCents: 0, roomCents: 0 }, 'an acked vend stays out of it');
    assert.deepEqual(l.selfCheck(), { ok: true, problems: [] });
    // Upgrade: a schema-9 file with an unsynced fault refund starts at the net figure.
    const c = vend(500);
    assert.ok(l.refundCaptured(c, { reason: 'fault_abort', amountCents: 200 }).ok);
    l.close();
    const db = openDatabase({ path: t.file('l.db'), logger: silentLogger() });
    db.exec("DROP TRIGGER vend_adjustments_exposure; UPDATE unsynced_exposure SET cents = cents + 200; PRAGMA user_version = 9;");
    // And what later migrations added (secure cards), or re-running them would add it twice.
    db.exec('DROP TABLE refund_intents; DROP TABLE sun_counters; ALTER TABLE cards DROP COLUMN secure; ALTER TABLE cards DROP COLUMN fleet_counter; ALTER TABLE cards DROP COLUMN key_version;');
    db.exec("DROP TABLE money_chain; DELETE FROM meta WHERE key LIKE 'money%';");
    db.exec('CREATE INDEX vends_created ON vends(created_ms); CREATE INDEX vends_last_outbox_seq ON vends(last_outbox_seq); CREATE INDEX audit_outbox_seq ON audit(outbox_seq);');
    db.close();
    const again = openTestLedger(t.file('l.db'));
    assert.deepEqual(again.unsyncedExposure('acct-a'), { accountCents: 300, roomCents: 300 });
    assert.deepEqual(again.selfCheck(), { ok: true, problems: [] });
    assert.ok(again.verifyAudit().ok, 'migration 13 chained the money rows the file held');
    again.close();
  } finally {
    t.cleanup();
  }
});
