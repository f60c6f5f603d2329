import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../gateway/core/log.js';
import type { LedgerContext } from '../../storage/context.js';
import { openDatabase, readPragmas } from '../../storage/db.js';
import { ack, enqueueEvent } from '../../storage/outbox.js';
import { cardHold, manualClock, openTestLedger, tempDir } from './helpers.js';

test('records come out oldest first with gap-free seqs, within count and byte limits', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    for (let i = 0; i < 5; i++) l.enqueueEvent('machine.state', { machineId: `W${i}`, state: 'running' });
    l.applyTopUp({ cloudId: 'x', accountId: 'a', amountCents: 100, accountVersion: 1 });
    const all = l.outbox.nextBatch({ maxCount: 100, maxBytes: 1 << 20 });
    assert.deepEqual(all.records.map((r) => r.seq), [1, 2, 3, 4, 5, 6]);
    assert.equal(new Set(all.records.map((r) => r.id)).size, 6);
    assert.ok(all.records.every((r) => /^[0-9a-f-]{36}$/.test(r.id)));
    assert.deepEqual(all.records[0]?.payload, { machineId: 'W0', state: 'running' });
    assert.equal(all.records[5]?.money, true);
    assert.equal(all.gatewayId, 'gw-test');

    assert.deepEqual(l.outbox.nextBatch({ maxCount: 2, maxBytes: 1 << 20 }).records.map((r) => r.seq), [1, 2]);
    const oneSize = Buffer.byteLength(JSON.stringify(all.records[0]?.payload));
    assert.deepEqual(l.outbox.nextBatch({ maxCount: 10, maxBytes: oneSize * 2 + 1 }).records.map((r) => r.seq), [1, 2]);
    // A record bigger than the byte limit still goes out alone rather than blocking the queue.
    assert.deepEqual(l.outbox.nextBatch({ maxCount: 10, maxBytes: 1 }).records.map((r) => r.seq), [1]);
    // Nothing was consumed by reading.
    assert.equal(l.outbox.stats().depth, 6);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('ack retires up to a seq; repeated, old and future acks are harmless', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    for (let i = 0; i < 5; i++) l.enqueueEvent('machine.state', { i });
    assert.deepEqual(l.outbox.ack(3), { retired: 3, ackedSeq: 3 });
    assert.deepEqual(l.outbox.ack(3), { retired: 0, ackedSeq: 3 });
    assert.deepEqual(l.outbox.ack(1), { retired: 0, ackedSeq: 3 });
    assert.deepEqual(l.outbox.nextBatch({ maxCount: 10, maxBytes: 1 << 20 }).records.map((r) => r.seq), [4, 5]);
    assert.deepEqual(l.outbox.ack(99), { retired: 2, ackedSeq: 5 });
    l.enqueueEvent('machine.state', { i: 6 });
    // The ack for a seq that did not exist yet must not have retired the new record.
    assert.deepEqual(l.outbox.nextBatch({ maxCount: 10, maxBytes: 1 << 20 }).records.map((r) => r.seq), [6]);
    assert.throws(() => l.outbox.ack(-1));
    assert.deepEqual(l.selfCheck().problems, []);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('a rejected batch goes to dead letters with an alert, and the rest flows on', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    l.applyTopUp({ cloudId: 'x', accountId: 'a', amountCents: 500, accountVersion: 1 });
    const h = l.hold(cardHold('a', 200));
    assert.ok(h.ok);
    l.enqueueEvent('machine.state', { s: 1 });
    const r = l.outbox.deadLetter([2, 2, 77], 'schema rejected');
    assert.deepEqual(r.moved, [2]);
    assert.ok(r.alertSeq !== null);
    const seqs = l.outbox.nextBatch({ maxCount: 10, maxBytes: 1 << 20 }).records;
    assert.deepEqual(seqs.map((x) => [x.seq, x.type]), [[1, 'account.topup'], [3, 'machine.state'], [4, 'alert']]);
    assert.deepEqual(seqs[2]?.payload && (seqs[2].payload as { seqs: number[] }).seqs, [2]);
    const stats = l.outbox.stats();
    assert.equal(stats.deadLetters, 1);
    assert.equal(stats.depth, 3);
    // The money fact stays: balance still counts the hold, the audit says what happened.
    assert.equal(l.balance('a')?.balanceCents, 300);
    assert.equal(l.readAudit(1, 100).at(-1)?.reason, 'outbox_dead_letter');
    assert.deepEqual(l.outbox.deadLetter([], 'nothing'), { moved: [], alertSeq: null });
    const dead = l.outbox.deadLetters(10);
    assert.deepEqual(dead.map((d) => [d.seq, d.type, d.money, d.reason]), [[2, 'vend.hold', true, 'schema rejected']]);
    assert.equal((dead[0]?.payload as { vendId: string }).vendId, h.vendId);
    l.outbox.ack(4);
    assert.equal(l.outbox.stats().depth, 0);
    assert.deepEqual(l.selfCheck().problems, []);
    assert.equal(l.verifyAudit().ok, true);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('stats report depth and the age of the oldest record; events cannot pose as money', () => {
  const t = tempDir();
  const clock = manualClock();
  const l = openTestLedger(t.file('l.db'), { clock });
  try {
    assert.deepEqual(l.outbox.stats(), { depth: 0, oldestAgeMs: null, lastSeq: 0, ackedSeq: 0, deadLetters: 0 });
    l.enqueueEvent('machine.state', {});
    clock.advance(5000);
    l.enqueueEvent('machine.state', {});
    assert.deepEqual(l.outbox.stats(), { depth: 2, oldestAgeMs: 5000, lastSeq: 2, ackedSeq: 0, deadLetters: 0 });
    assert.throws(() => l.enqueueEvent('vend.capture', {}));
    assert.throws(() => l.enqueueEvent('alert', {}));
    assert.throws(() => l.enqueueEvent('Bad Type', {}));
    assert.throws(() => l.enqueueEvent('machine.state', undefined));
  } finally {
    l.close();
    t.cleanup();
  }
});

test('the outbox survives reopen with its seq counter', () => {
  const t = tempDir();
  const path = t.file('l.db');
  let l = openTestLedger(path);
  try {
    l.enqueueEvent('machine.state', { a: 1 });
    l.enqueueEvent('machine.state', { a: 2 });
    l.outbox.ack(2);
    l.close();
    l = openTestLedger(path);
    assert.deepEqual(l.enqueueEvent('machine.state', { a: 3 }).seq, 3);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('stats: the depth (computed without a scan) equals the rows waiting, through dead letters and acks', async () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  const Database = (await import('better-sqlite3')).default;
  const peek = new Database(t.file('l.db'), { readonly: true });
  const rows = (): number => (peek.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
  try {
    assert.equal(l.outbox.stats().depth, 0);
    assert.equal(l.outbox.stats().oldestAgeMs, null);
    for (let i = 0; i < 10; i++) l.enqueueEvent('machine.state', { machineId: `W${i}`, state: 'running' });
    assert.equal(l.outbox.stats().depth, rows());
    l.outbox.deadLetter([4, 7], 'rejected');
    assert.equal(l.outbox.stats().depth, rows());
    assert.equal(rows(), 9, "two moved out, one alert about them added");
    l.outbox.ack(5);
    assert.equal(l.outbox.stats().depth, rows());
    l.outbox.ack(11);
    assert.equal(l.outbox.stats().depth, 0);
    assert.equal(rows(), 0);
    assert.ok(l.outbox.stats().deadLetters >= 2);
  } finally {
    peek.close();
    l.close();
    t.cleanup();
  }
});

test('an ack commits without an fsync of its own and leaves the connection at synchronous=FULL', () => {
  const t = tempDir();
  const db = openDatabase({ path: t.file('l.db'), logger: silentLogger() });
  // The real connection, seen through a recorder of the pragmas and transactions the ack runs.
  const calls: string[] = [];
  const seen = new Proxy(db, {
    get(target, prop) {
      if (prop === 'pragma') return (sql: string, o?: { simple?: boolean }) => (calls.push(sql), target.pragma(sql, o));
      if (prop === 'transaction') return (fn: () => unknown) => (calls.push('transaction'), target.transaction(fn));
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const ctx: LedgerContext = { db: seen, clock: manualClock(), logger: silentLogger(), gatewayId: 'gw-test', bootId: 'b', roomSecret: Buffer.alloc(32, 7), clockTrusted: () => true };
  try {
    for (let i = 0; i < 5; i++) enqueueEvent(ctx, 'machine.state', { i });
    calls.length = 0;
    assert.deepEqual(ack(ctx, 3), { retired: 3, ackedSeq: 3 });
    assert.deepEqual(calls, ['synchronous = NORMAL', 'transaction', 'synchronous = FULL', 'synchronous']);
    assert.equal(readPragmas(db).synchronous, 2);
    // Inside a caller's transaction the level is the caller's (it cannot change there).
    calls.length = 0;
    db.transaction(() => ack(ctx, 5))();
    assert.deepEqual(calls, ['transaction']);
    assert.equal(readPragmas(db).synchronous, 2);
    assert.equal(ack(ctx, 5).ackedSeq, 5);
  } finally {
    db.close();
    t.cleanup();
  }
});
