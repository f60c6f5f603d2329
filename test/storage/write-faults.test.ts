import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cardHold, withFaultyLedger } from './helpers.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

test('write faults: the next write throws like SQLite, the transaction rolls back, the ledger stays whole', () =>
  withFaultyLedger((l, faults) => {
    l.applyTopUp({ cloudId: 'seed', accountId: 'a', amountCents: 1000, accountVersion: 1 });
    const h = l.hold(cardHold('a', 400));
    assert.ok(h.ok);
    assert.ok(l.markCreditSent(h.vendId, { kind: 'lw485', seq: 1 }).ok);
    const before = l.outbox.stats();

    faults.fail({ code: 'SQLITE_IOERR', op: 'capture' });
    assert.equal(codeOf(() => l.capture(h.vendId)), 'SQLITE_IOERR');
    assert.equal(l.getVend(h.vendId)?.state, 'credit_sent', 'nothing of the failed capture was kept');
    assert.deepEqual(l.outbox.stats(), before);
    assert.equal(faults.injected, 1);

    assert.ok(l.capture(h.vendId).ok, 'the next try goes through');
    assert.equal(l.balance('a')?.balanceCents, 600);
    assert.ok(l.selfCheck().ok);
    assert.ok(l.verifyAudit().ok);
  }));

test('write faults: failAll until clear (a read-only remount), by SQL pattern, skip', () =>
  withFaultyLedger((l, faults) => {
    faults.failAll('SQLITE_READONLY');
    assert.equal(codeOf(() => l.applyTopUp({ cloudId: 'x', accountId: 'a', amountCents: 100, accountVersion: 2 })), 'SQLITE_READONLY');
    assert.equal(codeOf(() => l.setSetting('k', 'v')), 'SQLITE_READONLY');
    assert.equal(l.balance('a'), undefined, 'reads still work');
    faults.clear();
    assert.ok(l.applyTopUp({ cloudId: 'x', accountId: 'a', amountCents: 100, accountVersion: 2 }).applied);

    faults.fail({ code: 'SQLITE_FULL', sql: /INSERT INTO vends/, skip: 1 });
    assert.ok(l.hold(cardHold('a', 10)).ok, 'the first matching write is let through');
    assert.equal(codeOf(() => l.hold(cardHold('a', 10))), 'SQLITE_FULL');
    assert.equal(faults.armed, false);
    assert.ok(l.hold(cardHold('a', 10)).ok);
    assert.equal(l.balance('a')?.balanceCents, 80);
    assert.ok(l.selfCheck().ok);
  }));
