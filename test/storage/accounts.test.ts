import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cardHold, openTestLedger, tempDir } from './helpers.js';

function balanceOf(l: ReturnType<typeof openTestLedger>, id: string): number {
  const b = l.balance(id);
  assert.ok(b, `account ${id} exists`);
  return b.balanceCents;
}

test('balance is derived from snapshot plus holds, captures, refunds and top-ups', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    assert.equal(l.balance('acct-1'), undefined);
    assert.deepEqual(l.applyAccountSnapshot({ accountId: 'acct-1', version: 1, balanceCents: 1000, points: 5, tier: 'gold', coveredSeq: 0 }), { applied: true });
    assert.equal(balanceOf(l, 'acct-1'), 1000);

    const h1 = l.hold(cardHold('acct-1', 400));
    assert.ok(h1.ok);
    assert.equal(h1.balanceCents, 600);
    assert.equal(balanceOf(l, 'acct-1'), 600);
    assert.ok(l.markCreditSent(h1.vendId, { seq: 1 }).ok);
    assert.ok(l.capture(h1.vendId, { amountCents: 350, points: 3 }).ok);
    assert.equal(balanceOf(l, 'acct-1'), 650);
    assert.equal(l.balance('acct-1')?.points, 8);

    const h2 = l.hold(cardHold('acct-1', 300));
    assert.ok(h2.ok);
    assert.equal(balanceOf(l, 'acct-1'), 350);
    assert.ok(l.refund(h2.vendId, { reason: 'machine_fault' }).ok);
    assert.equal(balanceOf(l, 'acct-1'), 650);

    const h3 = l.hold(cardHold('acct-1', 300));
    assert.ok(h3.ok);
    assert.ok(l.markCreditSent(h3.vendId, { seq: 2 }).ok);
    assert.ok(l.refund(h3.vendId, { reason: 'partial_cycle', amountCents: 100 }).ok);
    assert.equal(balanceOf(l, 'acct-1'), 450);

    assert.deepEqual(l.applyTopUp({ cloudId: 'tu-1', accountId: 'acct-1', amountCents: 500, accountVersion: 2 }), { applied: true });
    assert.equal(balanceOf(l, 'acct-1'), 950);
    assert.equal(l.balance('acct-1')?.tier, 'gold');
  } finally {
    l.close();
    t.cleanup();
  }
});

test('a snapshot replaces what it covers and no more; older or equal versions are ignored', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    l.applyAccountSnapshot({ accountId: 'a', version: 3, balanceCents: 1000, points: 0, tier: 'std', coveredSeq: 0 });
    const h = l.hold(cardHold('a', 200));
    assert.ok(h.ok);
    const holdSeq = l.outbox.stats().lastSeq;
    const h2 = l.hold(cardHold('a', 100));
    assert.ok(h2.ok);
    assert.equal(balanceOf(l, 'a'), 700);

    // The cloud has seen the first hold (its seq) but not the second.
    assert.deepEqual(l.applyAccountSnapshot({ accountId: 'a', version: 4, balanceCents: 800, points: 0, tier: 'std', coveredSeq: holdSeq }), { applied: true });
    assert.equal(balanceOf(l, 'a'), 700);
    assert.equal(l.balance('a')?.pendingEntries, 1);

    // Stale and duplicate snapshots change nothing.
    assert.equal(l.applyAccountSnapshot({ accountId: 'a', version: 2, balanceCents: 99999, points: 0, tier: 'x', coveredSeq: holdSeq }).applied, false);
    assert.equal(l.applyAccountSnapshot({ accountId: 'a', version: 4, balanceCents: 99999, points: 0, tier: 'x', coveredSeq: holdSeq }).applied, false);
    assert.equal(balanceOf(l, 'a'), 700);

    // Covering both holds, the snapshot is the whole balance.
    l.applyAccountSnapshot({ accountId: 'a', version: 5, balanceCents: 650, points: 0, tier: 'std', coveredSeq: l.outbox.stats().lastSeq });
    assert.equal(balanceOf(l, 'a'), 650);
    assert.equal(l.balance('a')?.pendingEntries, 0);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('a top-up credits once however often it is delivered, and survives reopen', () => {
  const t = tempDir();
  const path = t.file('l.db');
  let l = openTestLedger(path);
  try {
    assert.deepEqual(l.applyTopUp({ cloudId: 'tu-9', accountId: 'b', amountCents: 250, accountVersion: 1 }), { applied: true });
    assert.equal(l.applyTopUp({ cloudId: 'tu-9', accountId: 'b', amountCents: 250, accountVersion: 1 }).applied, false);
    l.close();
    l = openTestLedger(path);
    assert.equal(l.applyTopUp({ cloudId: 'tu-9', accountId: 'b', amountCents: 250, accountVersion: 1 }).applied, false);
    assert.equal(balanceOf(l, 'b'), 250);
    assert.throws(() => l.applyTopUp({ cloudId: 'tu-10', accountId: 'b', amountCents: -5, accountVersion: 1 }));
    assert.throws(() => l.applyTopUp({ cloudId: 'tu-11', accountId: 'b', amountCents: 1.5, accountVersion: 1 }));
  } finally {
    l.close();
    t.cleanup();
  }
});

test('a top-up booked at an account version is covered by a snapshot at that version', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    l.applyAccountSnapshot({ accountId: 'c', version: 10, balanceCents: 100, points: 0, tier: 'std', coveredSeq: 0 });
    l.applyTopUp({ cloudId: 'tu-c', accountId: 'c', amountCents: 500, accountVersion: 11 });
    assert.equal(balanceOf(l, 'c'), 600);
    // The cloud's next snapshot includes the top-up: it must not count twice.
    l.applyAccountSnapshot({ accountId: 'c', version: 11, balanceCents: 600, points: 0, tier: 'std', coveredSeq: 0 });
    assert.equal(balanceOf(l, 'c'), 600);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('a hold below the floor is declined and audited, without touching the balance', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    l.applyTopUp({ cloudId: 'x', accountId: 'd', amountCents: 300, accountVersion: 1 });
    const r = l.hold(cardHold('d', 400));
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.outcome === 'insufficient_funds');
    assert.equal(balanceOf(l, 'd'), 300);
    const credit = l.hold(cardHold('d', 400, { floorCents: -200 }));
    assert.ok(credit.ok);
    assert.equal(balanceOf(l, 'd'), -100);
    const last = l.readAudit(1, 100).filter((a) => a.kind === 'decline');
    assert.equal(last.length, 1);
    assert.equal(last[0]?.reason, 'insufficient_funds');
    assert.equal(l.recentVends(10).length, 1);
  } finally {
    l.close();
    t.cleanup();
  }
});
