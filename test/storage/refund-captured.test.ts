// refundCaptured: part of a captured vend's price back after a machine fault cut its cycle short.
// One transaction with audit, outbox and balance entry; never above the captured amount; once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cardHold, openTestLedger, tempDir } from './helpers.js';

test('refundCaptured gives part of a captured vend back once, never more than was captured', () => {
  const tmp = tempDir();
  const l = openTestLedger(tmp.file('l.db'));
  try {
    l.applyTopUp({ cloudId: 't1', accountId: 'acct-a', amountCents: 1000, accountVersion: 1 });
    const h = l.hold(cardHold('acct-a', 400));
    assert.ok(h.ok);
    if (!h.ok) return;
    assert.deepEqual(l.refundCaptured(h.vendId, { reason: 'fault_abort', amountCents: 100 }), { ok: false, reason: 'not_captured' });
    assert.ok(l.markCreditSent(h.vendId, { profile: 'lw485', unit: 1, seq: 1, code: 1 }).ok);
    assert.ok(l.capture(h.vendId, { amountCents: 300 }).ok);
    assert.equal(l.balance('acct-a')?.balanceCents, 700);
    assert.deepEqual(l.refundCaptured(h.vendId, { reason: 'fault_abort', amountCents: 301 }), { ok: false, reason: 'over_capture' });
    const r = l.refundCaptured(h.vendId, { reason: 'fault_abort', amountCents: 120, detail: { elapsedShare: 0.6 } });
    assert.equal(r.ok, true);
    assert.equal(l.balance('acct-a')?.balanceCents, 820);
    assert.equal(l.capturedRefundOf(h.vendId), 120);
    assert.deepEqual(l.refundCaptured(h.vendId, { reason: 'fault_abort', amountCents: 1 }), { ok: false, reason: 'already_refunded' });
    assert.deepEqual(l.refundCaptured('nope', { reason: 'fault_abort', amountCents: 1 }), { ok: false, reason: 'not_found' });
    assert.equal(l.balance('acct-a')?.balanceCents, 820);
    assert.equal(l.getVend(h.vendId)?.state, 'captured', 'the vend stays captured');
    const rec = l.outbox.nextBatch({ maxCount: 100, maxBytes: 1_000_000 }).records.filter((x) => x.type === 'vend.fault_refund');
    assert.equal(rec.length, 1);
    const payload = rec[0]?.payload as Record<string, unknown>;
    assert.deepEqual([payload.vendId, payload.refundedCents, payload.capturedCents, payload.reason], [h.vendId, 120, 300, 'fault_abort']);
    const audits = l.readAudit(1, 1000).filter((a) => a.vendId === h.vendId).map((a) => a.kind);
    assert.deepEqual(audits, ['hold', 'credit_sent', 'capture', 'fault_refund']);
    assert.equal(l.verifyAudit().ok, true);
    assert.deepEqual(l.selfCheck().problems, []);
  } finally {
    l.close();
    tmp.cleanup();
  }
});

test('refundCaptured on a token-funded vend moves no balance, and the self-check still holds', () => {
  const tmp = tempDir();
  const l = openTestLedger(tmp.file('l.db'));
  try {
    const h = l.hold({ method: 'qr', funding: 'token', machineId: 'W1', amountCents: 350, tokenId: 'AAAAAAAAAAAAAAAA', tokenExpiresAt: 4_000_000_000, ruleSetVersion: 'r', ruleId: 'x' });
    assert.ok(h.ok);
    if (!h.ok) return;
    l.markCreditSent(h.vendId, { profile: 'lw485', unit: 1, seq: 2, code: 1 });
    l.capture(h.vendId);
    assert.equal(l.refundCaptured(h.vendId, { reason: 'fault_abort', amountCents: 350 }).ok, true);
    assert.deepEqual(l.selfCheck().problems, []);
  } finally {
    l.close();
    tmp.cleanup();
  }
});

test('several refunds of one captured vend (migration 12): once per key, never above the capture in total', () => {
  const tmp = tempDir();
  const l = openTestLedger(tmp.file('l.db'));
  try {
    l.applyTopUp({ cloudId: 't1', accountId: 'acct-a', amountCents: 1000, accountVersion: 1 });
    const h = l.hold(cardHold('acct-a', 400));
    assert.ok(h.ok);
    if (!h.ok) return;
    assert.ok(l.markCreditSent(h.vendId, { profile: 'lw485', unit: 1, seq: 1, code: 1 }).ok);
    assert.ok(l.capture(h.vendId).ok);
    assert.ok(l.refundCaptured(h.vendId, { reason: 'operator_refund', amountCents: 100 }).ok, 'an operator gives part back');
    assert.deepEqual(l.refundCaptured(h.vendId, { reason: 'remote_cancel', key: 'remote_cancel:c1', amountCents: 301 }), { ok: false, reason: 'over_capture' });
    assert.ok(l.refundCaptured(h.vendId, { reason: 'remote_cancel', key: 'remote_cancel:c1', amountCents: 300 }).ok, 'a cancel gives the rest');
    assert.deepEqual(l.refundCaptured(h.vendId, { reason: 'remote_cancel', key: 'remote_cancel:c1', amountCents: 1 }), { ok: false, reason: 'already_refunded' });
    assert.deepEqual(l.refundCaptured(h.vendId, { reason: 'fault_abort', amountCents: 1 }), { ok: false, reason: 'over_capture' });
    assert.equal(l.capturedRefundOf(h.vendId), 400);
    assert.equal(l.balance('acct-a')?.balanceCents, 1000);
    assert.deepEqual(l.readAudit(1, 1000).filter((a) => a.vendId === h.vendId).map((a) => a.kind), ['hold', 'credit_sent', 'capture', 'fault_refund', 'fault_refund']);
    assert.deepEqual(l.selfCheck().problems, []);
  } finally {
    l.close();
    tmp.cleanup();
  }
});
