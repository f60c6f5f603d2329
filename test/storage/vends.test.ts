import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cardHold, manualClock, openTestLedger, tempDir } from './helpers.js';

function qrHold(tokenId: string, extra: Record<string, unknown> = {}) {
  return {
    method: 'qr' as const,
    funding: 'token' as const,
    machineId: 'D1',
    program: 3,
    amountCents: 300,
    tokenId,
    tokenExpiresAt: 1_800_000_000,
    tokenAmountCents: 350,
    ruleSetVersion: 7,
    ruleId: 'dry-high',
    ...extra,
  };
}

test('life cycle: hold, credit sent, capture; every step audited and queued', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    l.applyTopUp({ cloudId: 'seed', accountId: 'a', amountCents: 1000, accountVersion: 1 });
    const h = l.hold(cardHold('a', 400));
    assert.ok(h.ok);
    const v = l.getVend(h.vendId);
    assert.equal(v?.state, 'held');
    assert.equal(v?.cardMask, '**********5E80');
    assert.equal(v?.ruleSetVersion, 'rs-7');
    assert.equal(v?.ruleId, 'wash-std');
    assert.equal(v?.program, 2);
    assert.deepEqual(l.unfinishedVends().map((x) => x.vendId), [h.vendId]);

    assert.deepEqual(l.capture(h.vendId), { ok: false, reason: 'not_sent' }, 'no capture before the credit went out');
    const sent = l.markCreditSent(h.vendId, { kind: 'lw485', seq: 4711 });
    assert.ok(sent.ok);
    assert.deepEqual(l.markCreditSent(h.vendId, { seq: 1 }), { ok: false, reason: 'already_sent' });
    assert.deepEqual(l.getVend(h.vendId)?.creditEvidence, { kind: 'lw485', seq: 4711 });
    assert.deepEqual(l.unfinishedVends()[0]?.creditEvidence, { kind: 'lw485', seq: 4711 });

    assert.deepEqual(l.capture(h.vendId, { amountCents: 500 }), { ok: false, reason: 'over_hold' });
    assert.ok(l.capture(h.vendId).ok);
    assert.deepEqual(l.capture(h.vendId), { ok: false, reason: 'already_finished' });
    assert.deepEqual(l.refund(h.vendId, { reason: 'late' }), { ok: false, reason: 'already_finished' });
    assert.deepEqual(l.markCreditSent(h.vendId, {}), { ok: false, reason: 'already_finished' });
    assert.deepEqual(l.unfinishedVends(), []);
    assert.equal(l.getVend(h.vendId)?.capturedCents, 400);
    assert.equal(l.balance('a')?.balanceCents, 600);

    const types = l.outbox.nextBatch({ maxCount: 100, maxBytes: 1 << 20 }).records.map((r) => r.type);
    assert.deepEqual(types, ['account.topup', 'vend.hold', 'vend.credit_sent', 'vend.capture']);
    const kinds = l.readAudit(1, 100).map((a) => `${a.kind}:${a.result}`);
    assert.deepEqual(kinds, ['topup:applied', 'hold:accepted', 'credit_sent:sent', 'capture:captured']);
    assert.deepEqual(l.selfCheck().problems, []);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('refund from held or credit_sent, partial or whole, once', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    l.applyTopUp({ cloudId: 'seed', accountId: 'a', amountCents: 1000, accountVersion: 1 });
    const a = l.hold(cardHold('a', 300));
    const b = l.hold(cardHold('a', 300));
    assert.ok(a.ok && b.ok);
    assert.ok(l.refund(a.vendId, { reason: 'machine_rejected' }).ok);
    assert.ok(l.markCreditSent(b.vendId, { pulsesBefore: 10 }).ok);
    assert.deepEqual(l.refund(b.vendId, { reason: 'x', amountCents: 301 }), { ok: false, reason: 'over_hold' });
    assert.ok(l.refund(b.vendId, { reason: 'short_cycle', amountCents: 100 }).ok);
    assert.deepEqual(l.refund(b.vendId, { reason: 'again' }), { ok: false, reason: 'already_finished' });
    assert.deepEqual(l.capture(b.vendId), { ok: false, reason: 'already_finished' });
    assert.equal(l.getVend(b.vendId)?.refundedCents, 100);
    assert.equal(l.getVend(b.vendId)?.finishReason, 'short_cycle');
    assert.equal(l.balance('a')?.balanceCents, 800);
    assert.deepEqual(l.refund('no-such-vend', { reason: 'x' }), { ok: false, reason: 'not_found' });
    assert.deepEqual(l.selfCheck().problems, []);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('a QR token id pays for one vend only: the second use is declined as replayed', () => {
  const t = tempDir();
  const path = t.file('l.db');
  let l = openTestLedger(path);
  try {
    const first = l.hold(qrHold('a1b2c3d4e5f60718'));
    assert.ok(first.ok);
    assert.equal(l.isTokenUsed('A1B2C3D4E5F60718'), true);
    const again = l.hold(qrHold('A1B2C3D4E5F60718'));
    assert.equal(again.ok, false);
    assert.ok(!again.ok && again.outcome === 'replayed');
    l.close();
    l = openTestLedger(path);
    const afterRestart = l.hold(qrHold('a1b2c3d4e5f60718', { machineId: 'D2' }));
    assert.ok(!afterRestart.ok && afterRestart.outcome === 'replayed');
    assert.equal(l.stats().vends, 1);
    const declines = l.readAudit(1, 100).filter((a) => a.kind === 'decline');
    assert.deepEqual(declines.map((d) => d.reason), ['replayed', 'replayed']);
    assert.ok(declines.every((d) => d.result === 'declined'));
    const outboxTypes = l.outbox.nextBatch({ maxCount: 100, maxBytes: 1 << 20 }).records.map((r) => r.type);
    assert.deepEqual(outboxTypes, ['vend.hold', 'decline', 'decline']);
    // QR money is the cloud's: no balance entries, even with an account on the token.
    assert.deepEqual(l.selfCheck().problems, []);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('used token ids are pruned only after exp plus skew', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    assert.ok(l.hold(qrHold('0102030405060708', { tokenExpiresAt: 1000 })).ok);
    assert.ok(l.hold(qrHold('1112131415161718', { tokenExpiresAt: 2000 })).ok);
    assert.equal(l.pruneUsedTokens(1200, 300), 0);
    assert.equal(l.pruneUsedTokens(1301, 300), 1);
    assert.equal(l.isTokenUsed('0102030405060708'), false);
    assert.equal(l.isTokenUsed('1112131415161718'), true);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('inputs are checked at the edge', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    assert.throws(() => l.hold(cardHold('a', 1.5)));
    assert.throws(() => l.hold(cardHold('a', -1)));
    assert.throws(() => l.hold({ ...cardHold('a', 1), accountId: undefined }));
    assert.throws(() => l.hold(qrHold('zz')));
    assert.throws(() => l.hold({ ...qrHold('0102'), tokenExpiresAt: undefined }));
    assert.throws(() => l.hold({ ...cardHold('a', 1), method: 'coin' as 'card' }));
    assert.equal(l.stats().vends, 0);
    assert.equal(l.verifyAudit().ok, true);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('declines, alerts, recent vends; audit records carry boot, clock and masked card', () => {
  const t = tempDir();
  const clock = manualClock();
  const l = openTestLedger(t.file('l.db'), { clock, bootId: 'boot-42', clockTrusted: () => false });
  try {
    l.recordDecline({ method: 'card', reason: 'card_blocked', machineId: 'W1', cardUid: '04a2b9c1d25e80', amountCents: 300 });
    l.appendAlert({ code: 'machine_fault', message: 'door lock', machineId: 'W2' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      const h = l.hold({ method: 'service', funding: 'none', machineId: `W${i}`, amountCents: 0, ruleSetVersion: '1', ruleId: 'service' });
      assert.ok(h.ok);
      ids.push(h.vendId);
    }
    assert.deepEqual(l.recentVends(2).map((v) => v.vendId), [ids[2], ids[1]]);
    const [decline, alert] = l.readAudit(1, 2);
    assert.equal(decline?.cardMask, '**********5E80');
    assert.equal(decline?.bootId, 'boot-42');
    assert.equal(decline?.clockTrusted, false);
    assert.equal(decline?.wallMs, clock.now() - 3000);
    assert.equal(alert?.kind, 'alert');
    assert.equal(alert?.reason, 'machine_fault');
  } finally {
    l.close();
    t.cleanup();
  }
});

test('offline exposure counts account-funded vends until the cloud acks their latest record', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    l.applyTopUp({ cloudId: 's', accountId: 'a', amountCents: 5000, accountVersion: 1 });
    l.applyTopUp({ cloudId: 't', accountId: 'b', amountCents: 5000, accountVersion: 1 });
    const a1 = l.hold(cardHold('a', 300));
    const b1 = l.hold(cardHold('b', 200));
    assert.ok(a1.ok && b1.ok);
    l.hold({ method: 'qr', funding: 'token', machineId: 'D1', amountCents: 999, tokenId: 'abcd', tokenExpiresAt: 2_000_000_000, ruleSetVersion: '1', ruleId: 'q' });
    assert.deepEqual(l.unsyncedExposure('a'), { accountCents: 300, roomCents: 500 });
    assert.deepEqual(l.unsyncedExposure(null), { accountCents: 0, roomCents: 500 });
    l.outbox.ack(l.outbox.stats().lastSeq);
    assert.deepEqual(l.unsyncedExposure('a'), { accountCents: 0, roomCents: 0 });
    // A later step puts the vend back in flight at what it now costs.
    assert.ok(l.markCreditSent(a1.vendId, { seq: 1 }).ok);
    assert.ok(l.capture(a1.vendId, { amountCents: 250 }).ok);
    assert.ok(l.refund(b1.vendId, { reason: 'x', amountCents: 50 }).ok);
    assert.deepEqual(l.unsyncedExposure('a'), { accountCents: 250, roomCents: 400 });
  } finally {
    l.close();
    t.cleanup();
  }
});
