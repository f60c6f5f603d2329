// The balance rule (docs/mqtt-contract.md, "Balances"): a local entry the vend path wrote counts
// while its outbox seq is above the snapshot's coveredSeq; a top-up counts while its
// accountVersion is above the snapshot's version. Both fields are required: without them a
// snapshot that already includes a fresh top-up counted it twice (issue 12, item 5).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cardHold, openTestLedger, tempDir } from './helpers.js';

test('issue 12.5: a top-up applied while acks are held, then a snapshot that includes it, counts once', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    l.applyAccountSnapshot({ accountId: 'a', version: 1, balanceCents: 1000, points: 0, tier: 'std', coveredSeq: 0 });
    // The exact messages of the issue: no accountVersion, no coveredSeq. Both are refused now.
    assert.throws(() => l.applyTopUp({ cloudId: 'tu-500', accountId: 'a', amountCents: 500 } as never), /accountVersion/);
    assert.equal(l.balance('a')?.balanceCents, 1000, 'a refused top-up changes nothing');
    // The same top-up as the contract has it: booked by the cloud at account version 2.
    assert.deepEqual(l.applyTopUp({ cloudId: 'tu-500', accountId: 'a', amountCents: 500, accountVersion: 2 }), { applied: true });
    assert.equal(l.balance('a')?.balanceCents, 1500);
    assert.equal(l.outbox.stats().ackedSeq, 0, 'acks held: the top-up record is not acknowledged');
    assert.throws(() => l.applyAccountSnapshot({ accountId: 'a', version: 2, balanceCents: 1500, points: 0, tier: 'std' } as never), /coveredSeq/);
    assert.equal(l.balance('a')?.balanceCents, 1500, 'a refused snapshot changes nothing');
    // The snapshot at version 2 includes the top-up; the cloud has no record of ours (coveredSeq 0).
    assert.deepEqual(l.applyAccountSnapshot({ accountId: 'a', version: 2, balanceCents: 1500, points: 0, tier: 'std', coveredSeq: 0 }), { applied: true });
    assert.equal(l.balance('a')?.balanceCents, 1500, 'counted once, not 2000');
    assert.equal(l.balance('a')?.pendingEntries, 0);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('a top-up counts by account version alone, a vend entry by coveredSeq alone', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    l.applyAccountSnapshot({ accountId: 'a', version: 3, balanceCents: 1000, points: 0, tier: 'std', coveredSeq: 0 });
    const h = l.hold(cardHold('a', 300));
    assert.ok(h.ok);
    l.applyTopUp({ cloudId: 'tu-1', accountId: 'a', amountCents: 200, accountVersion: 5 });
    const topUpSeq = l.outbox.stats().lastSeq;
    assert.equal(l.balance('a')?.balanceCents, 900);
    // The cloud has received every record, the top-up's too, but this snapshot was built at
    // version 4, before the top-up was booked: the hold is in it, the top-up is not.
    assert.ok(l.applyAccountSnapshot({ accountId: 'a', version: 4, balanceCents: 700, points: 0, tier: 'std', coveredSeq: topUpSeq }).applied);
    assert.equal(l.balance('a')?.balanceCents, 900, 'the top-up is still added: not dropped');
    assert.ok(l.applyAccountSnapshot({ accountId: 'a', version: 5, balanceCents: 900, points: 0, tier: 'std', coveredSeq: topUpSeq }).applied);
    assert.equal(l.balance('a')?.balanceCents, 900, 'now the snapshot holds it: not doubled');
    assert.equal(l.balance('a')?.pendingEntries, 0);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('what would drop or double a cent is refused with a reason and changes nothing', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    l.applyAccountSnapshot({ accountId: 'a', version: 3, balanceCents: 1000, points: 0, tier: 'std', coveredSeq: 0 });
    const h = l.hold(cardHold('a', 300));
    assert.ok(h.ok);
    const seq = l.outbox.stats().lastSeq;
    assert.ok(l.applyAccountSnapshot({ accountId: 'a', version: 4, balanceCents: 700, points: 0, tier: 'std', coveredSeq: seq }).applied);
    assert.equal(l.balance('a')?.balanceCents, 700);
    const cases = [
      { s: { version: 3, coveredSeq: seq }, reason: 'old_version' },
      { s: { version: 4, coveredSeq: seq }, reason: 'replayed' },
      // A newer snapshot that covers less than an earlier one: the hold would count twice.
      { s: { version: 5, coveredSeq: 0 }, reason: 'coverage_back' },
      // Covers a record this gateway has not written: whatever comes next would be dropped.
      { s: { version: 5, coveredSeq: seq + 1 }, reason: 'beyond_outbox' },
    ] as const;
    for (const c of cases) {
      const r = l.applyAccountSnapshot({ accountId: 'a', balanceCents: 99, points: 0, tier: 'x', ...c.s });
      assert.equal(r.applied, false);
      assert.equal(!r.applied && r.reason, c.reason);
      assert.equal(l.balance('a')?.balanceCents, 700);
    }
    // A top-up the applied snapshot already includes, and a replayed one.
    const old = l.applyTopUp({ cloudId: 'tu-old', accountId: 'a', amountCents: 50, accountVersion: 4 });
    assert.equal(!old.applied && old.reason, 'old_version');
    assert.ok(l.applyTopUp({ cloudId: 'tu-new', accountId: 'a', amountCents: 50, accountVersion: 5 }).applied);
    const again = l.applyTopUp({ cloudId: 'tu-new', accountId: 'a', amountCents: 50, accountVersion: 5 });
    assert.equal(!again.applied && again.reason, 'replayed');
    assert.equal(l.balance('a')?.balanceCents, 750);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('a message of snapshots or top-ups is applied whole or not at all', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    assert.deepEqual(l.applyTopUps([{ cloudId: 't1', accountId: 'a', amountCents: 100, accountVersion: 1 }]), { applied: true, count: 1 });
    const seq = l.outbox.stats().lastSeq;
    const mixed = l.applyTopUps([
      { cloudId: 't2', accountId: 'a', amountCents: 200, accountVersion: 2 },
      { cloudId: 't1', accountId: 'a', amountCents: 100, accountVersion: 1 },
    ]);
    assert.equal(!mixed.applied && `${mixed.reason}:${mixed.ref}`, 'replayed:t1');
    assert.equal(l.balance('a')?.balanceCents, 100, 'the fresh top-up of a refused message is not applied either');
    assert.equal(l.outbox.stats().lastSeq, seq, 'and wrote no record');
    const snaps = l.applyAccountSnapshots([
      { accountId: 'b', version: 1, balanceCents: 50, points: 0, tier: 't', coveredSeq: seq },
      { accountId: 'a', version: 1, balanceCents: 999, points: 0, tier: 't', coveredSeq: seq + 5 },
    ]);
    assert.equal(!snaps.applied && `${snaps.reason}:${snaps.ref}`, 'beyond_outbox:a');
    assert.equal(l.balance('b')?.snapshotVersion ?? 0, 0);
    assert.deepEqual(l.applyAccountSnapshots([{ accountId: 'b', version: 1, balanceCents: 50, points: 0, tier: 't', coveredSeq: seq }]), { applied: true, count: 1 });
    assert.equal(l.balance('b')?.balanceCents, 50);
  } finally {
    l.close();
    t.cleanup();
  }
});
