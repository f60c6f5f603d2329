import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { cardHold, manualClock, openTestLedger, tempDir } from './helpers.js';

const DAY = 86_400_000;

function settledRoom(t: ReturnType<typeof tempDir>) {
  const clock = manualClock();
  const l = openTestLedger(t.file('l.db'), { clock });
  l.applyTopUp({ cloudId: 'tu-1', accountId: 'a', amountCents: 2000, accountVersion: 1 });
  const done: string[] = [];
  for (let i = 0; i < 3; i++) {
    const h = l.hold(cardHold('a', 300));
    assert.ok(h.ok);
    assert.ok(l.markCreditSent(h.vendId, { seq: i }).ok);
    assert.ok(i === 2 ? l.refund(h.vendId, { reason: 'fault', amountCents: 100 }).ok : l.capture(h.vendId, { amountCents: 250 }).ok);
    done.push(h.vendId);
  }
  const qr = l.hold({ method: 'qr', funding: 'token', machineId: 'D1', amountCents: 300, tokenId: 'aabbccdd', tokenExpiresAt: Math.floor(clock.now() / 1000) + 600, ruleSetVersion: '1', ruleId: 'q' });
  assert.ok(qr.ok);
  assert.ok(l.markCreditSent(qr.vendId, { seq: 9 }).ok);
  assert.ok(l.capture(qr.vendId).ok);
  l.recordDecline({ method: 'card', reason: 'card_unknown', machineId: 'W1' });
  clock.advance(2 * DAY);
  const open = l.hold(cardHold('a', 300));
  assert.ok(open.ok);
  return { l, clock, done, qrId: qr.vendId, openId: open.vendId };
}

test('nothing is pruned before the cloud has acknowledged and covered it', () => {
  const t = tempDir();
  const { l, clock } = settledRoom(t);
  try {
    assert.deepEqual(l.pruneHistory({ beforeMs: clock.now() - DAY }), { vends: 0, entries: 0, auditRecords: 0, anchorSeq: 0 });
    // Acknowledged, but no snapshot covers the balance entries yet: vends stay, the acked
    // audit prefix before the first kept vend may go.
    l.outbox.ack(l.outbox.stats().lastSeq);
    const r = l.pruneHistory({ beforeMs: clock.now() - DAY });
    assert.equal(r.vends, 0);
    assert.equal(r.auditRecords, 1, 'only the top-up record precedes the first kept vend');
    assert.equal(l.verifyAudit().ok, true);
    assert.deepEqual(l.selfCheck().problems, []);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('settled history goes; balances, replay protection, idempotency and the chain stay', () => {
  const t = tempDir();
  const { l, clock, done, qrId, openId } = settledRoom(t);
  try {
    const balanceBefore = l.balance('a')?.balanceCents;
    const headBefore = l.auditHead();
    l.outbox.ack(l.outbox.stats().lastSeq);
    l.applyAccountSnapshot({ accountId: 'a', version: 1, balanceCents: balanceBefore ?? 0, points: 0, tier: 'std', coveredSeq: l.outbox.stats().lastSeq });
    assert.equal(l.balance('a')?.balanceCents, balanceBefore);

    const r = l.pruneHistory({ beforeMs: clock.now() - DAY });
    assert.equal(r.vends, 3, 'the three card vends; the QR vend keeps its unexpired token');
    assert.equal(r.entries, 7, 'the three vends\' six entries and the top-up the snapshot holds');
    assert.ok(r.auditRecords > 0);
    for (const id of done) assert.equal(l.getVend(id), undefined);
    assert.ok(l.getVend(qrId));
    assert.equal(l.getVend(openId)?.state, 'held');
    assert.equal(l.balance('a')?.balanceCents, balanceBefore);
    assert.equal(l.applyTopUp({ cloudId: 'tu-1', accountId: 'a', amountCents: 2000, accountVersion: 1 }).applied, false);
    const replay = l.hold({ method: 'qr', funding: 'token', machineId: 'D1', amountCents: 300, tokenId: 'aabbccdd', tokenExpiresAt: 1, ruleSetVersion: '1', ruleId: 'q' });
    assert.ok(!replay.ok && replay.outcome === 'replayed');

    const v = l.verifyAudit();
    assert.ok(v.ok && v.anchorSeq === r.anchorSeq && v.head.seq === headBefore.seq + 1, JSON.stringify(v));
    assert.deepEqual(l.selfCheck().problems, []);
    assert.equal(l.integrityCheck().ok, true);

    // Once the token has expired and the QR vend is old enough, it goes too.
    assert.equal(l.pruneUsedTokens(Math.floor(clock.now() / 1000) + 10_000, 300), 1);
    const again = l.pruneHistory({ beforeMs: clock.now() - DAY });
    assert.equal(again.vends, 1);
    assert.equal(l.pruneHistory({ beforeMs: clock.now() - DAY }).vends, 0, 'a second run finds nothing');
    assert.equal(l.verifyAudit().ok, true);
    assert.deepEqual(l.selfCheck().problems, []);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('after pruning, tampering is still found and deletes outside pruning are still refused', () => {
  const t = tempDir();
  const { l, clock } = settledRoom(t);
  const path = t.file('l.db');
  l.outbox.ack(l.outbox.stats().lastSeq);
  l.applyAccountSnapshot({ accountId: 'a', version: 1, balanceCents: 0, points: 0, tier: 'std', coveredSeq: l.outbox.stats().lastSeq });
  const r = l.pruneHistory({ beforeMs: clock.now() - DAY });
  l.close();
  try {
    const raw = new Database(path);
    try {
      assert.throws(() => raw.prepare('DELETE FROM audit WHERE seq = ?').run(r.anchorSeq + 1), /append-only/);
      assert.throws(() => raw.prepare('DELETE FROM entries').run(), /append-only/);
      assert.throws(() => raw.prepare('DELETE FROM vends').run(), /never deleted/);
      raw.exec('DROP TRIGGER audit_no_update');
      raw.prepare('UPDATE audit SET amount_cents = 7 WHERE seq = ?').run(r.anchorSeq + 1);
    } finally {
      raw.close();
    }
    const l2 = openTestLedger(path);
    try {
      const v = l2.verifyAudit();
      assert.ok(!v.ok && v.atSeq === r.anchorSeq + 1, JSON.stringify(v));
    } finally {
      l2.close();
    }
  } finally {
    t.cleanup();
  }
});
