// accountUsage: what counts toward included washes, every-Nth-free and tenure, on a real file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cardHold, manualClock, openTestLedger, tempDir } from './helpers.js';
import type { Ledger } from '../../storage/index.js';

const DAY = 86_400_000;

function captured(l: Ledger, accountId: string, machineKind: 'washer' | 'dryer', amountCents = 300): string {
  const h = l.hold(cardHold(accountId, amountCents, { machineKind }));
  assert.ok(h.ok, JSON.stringify(h));
  assert.ok(l.markCreditSent(h.vendId, { seq: 1 }).ok);
  assert.ok(l.capture(h.vendId).ok);
  return h.vendId;
}

test('counts captured vends by kind and month; refunded and fault-refunded vends do not count', () => {
  const t = tempDir();
  const clock = manualClock(Date.UTC(2026, 9, 20, 12));
  const l = openTestLedger(t.file('l.db'), { clock });
  try {
    l.applyTopUp({ cloudId: 'tu', accountId: 'a', amountCents: 100_000, accountVersion: 1 });
    l.applyTopUp({ cloudId: 'tu-b', accountId: 'b', amountCents: 100_000, accountVersion: 1 });
    assert.deepEqual(l.accountUsage('a', { monthStartMs: Date.UTC(2026, 10, 1) }), {
      washesThisMonth: 0, lifetimeVends: 0, lifetimeByKind: { washer: 0, dryer: 0 }, memberSinceMs: null,
    });
    captured(l, 'a', 'washer'); // October
    captured(l, 'a', 'dryer');
    clock.advance(20 * DAY); // November 9
    const monthStartMs = Date.UTC(2026, 10, 1);
    captured(l, 'a', 'washer');
    captured(l, 'a', 'washer');
    captured(l, 'a', 'dryer');
    captured(l, 'b', 'washer'); // another account
    // Refunded before the credit, and refunded after it: neither counts.
    const r1 = l.hold(cardHold('a', 300, { machineKind: 'washer' }));
    assert.ok(r1.ok && l.refund(r1.vendId, { reason: 'machine_busy' }).ok);
    const r2 = l.hold(cardHold('a', 300, { machineKind: 'washer' }));
    assert.ok(r2.ok && l.markCreditSent(r2.vendId, { seq: 2 }).ok && l.refund(r2.vendId, { reason: 'machine_fault' }).ok);
    // Held and not finished: not (yet) counted.
    const open = l.hold(cardHold('a', 300, { machineKind: 'washer' }));
    assert.ok(open.ok);
    // Captured, then a fault cut the cycle short and part came back: no wash was had.
    const cut = captured(l, 'a', 'washer');
    assert.ok(l.refundCaptured(cut, { reason: 'machine_fault', amountCents: 100 }).ok);
    // A vend without a kind (as before migration 5) counts as a vend, not as a wash.
    const h = l.hold(cardHold('a', 300));
    assert.ok(h.ok && l.markCreditSent(h.vendId, { seq: 3 }).ok && l.capture(h.vendId).ok);

    assert.deepEqual(l.accountUsage('a', { monthStartMs }), {
      washesThisMonth: 2, lifetimeVends: 6, lifetimeByKind: { washer: 3, dryer: 2 }, memberSinceMs: null,
    });
    assert.equal(l.accountUsage('b', { monthStartMs }).washesThisMonth, 1);
    // The boundary is inclusive: a vend made at monthStartMs is this month's.
    assert.equal(l.accountUsage('a', { monthStartMs: clock.now() }).washesThisMonth, 2);
    assert.equal(l.accountUsage('a', { monthStartMs: clock.now() + 1 }).washesThisMonth, 0);
    assert.equal(l.accountUsage('nobody', { monthStartMs }).lifetimeVends, 0);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('memberSinceMs comes with the snapshot, survives a reopen, and a later snapshot without it clears it', () => {
  const t = tempDir();
  const path = t.file('l.db');
  let l = openTestLedger(path);
  try {
    const since = Date.UTC(2024, 2, 15);
    assert.ok(l.applyAccountSnapshot({ accountId: 'ten', version: 1, balanceCents: 0, points: 0, tier: 'tenant', coveredSeq: 0, memberSinceMs: since }).applied);
    assert.equal(l.accountUsage('ten', { monthStartMs: 0 }).memberSinceMs, since);
    l.close();
    l = openTestLedger(path);
    assert.equal(l.accountUsage('ten', { monthStartMs: 0 }).memberSinceMs, since);
    assert.ok(l.applyAccountSnapshot({ accountId: 'ten', version: 2, balanceCents: 0, points: 0, tier: 'tenant', coveredSeq: 0 }).applied);
    assert.equal(l.accountUsage('ten', { monthStartMs: 0 }).memberSinceMs, null);
    assert.throws(() => l.applyAccountSnapshot({ accountId: 'ten', version: 3, balanceCents: 0, points: 0, tier: 't', coveredSeq: 0, memberSinceMs: -1 }));
  } finally {
    l.close();
    t.cleanup();
  }
});

test('the usage query stays on its index (a swipe reads only that account\'s captured vends)', () => {
  const t = tempDir('ledger-', true);
  const l = openTestLedger(t.file('l.db'));
  try {
    const plan = l.accountUsagePlan().join(' | ');
    assert.match(plan, /USING COVERING INDEX vends_account_usage/, plan);
    assert.doesNotMatch(plan, /SCAN v\b|SCAN vends/, plan);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('lifetime counts survive retention: pruned vends that counted are tallied', () => {
  const t = tempDir();
  const clock = manualClock();
  const l = openTestLedger(t.file('l.db'), { clock });
  try {
    l.applyTopUp({ cloudId: 'tu', accountId: 'a', amountCents: 100_000, accountVersion: 1 });
    captured(l, 'a', 'washer');
    captured(l, 'a', 'washer');
    captured(l, 'a', 'dryer');
    const cut = captured(l, 'a', 'washer');
    assert.ok(l.refundCaptured(cut, { reason: 'machine_fault', amountCents: 100 }).ok);
    const r = l.hold(cardHold('a', 300, { machineKind: 'washer' }));
    assert.ok(r.ok && l.refund(r.vendId, { reason: 'machine_busy' }).ok);
    const before = l.accountUsage('a', { monthStartMs: 0 });
    assert.deepEqual([before.lifetimeVends, before.lifetimeByKind], [3, { washer: 2, dryer: 1 }]);

    // The cloud acknowledges and its snapshot covers everything; two days later it is pruned.
    l.outbox.ack(l.outbox.stats().lastSeq);
    assert.ok(l.applyAccountSnapshot({ accountId: 'a', version: 1, balanceCents: 0, points: 0, tier: '', coveredSeq: l.outbox.stats().lastSeq }).applied);
    clock.advance(2 * DAY);
    assert.equal(l.pruneHistory({ beforeMs: clock.now() - DAY }).vends, 5);
    const after = l.accountUsage('a', { monthStartMs: 0 });
    assert.deepEqual([after.lifetimeVends, after.lifetimeByKind], [3, { washer: 2, dryer: 1 }]);
    // New vends add to the tally.
    l.applyTopUp({ cloudId: 'tu-2', accountId: 'a', amountCents: 1000, accountVersion: 2 });
    captured(l, 'a', 'washer');
    assert.equal(l.accountUsage('a', { monthStartMs: 0 }).lifetimeByKind.washer, 3);
    assert.deepEqual(l.selfCheck().problems, []);
  } finally {
    l.close();
    t.cleanup();
  }
});
