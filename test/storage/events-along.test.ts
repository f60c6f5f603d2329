// Events that ride on the next commit (storage/events-along.ts): a machine's status change waits
// in memory for the connection's next transaction (a vend's capture, usually) instead of paying
// an fsync'd commit of its own, is written alone when its time is up or at close, survives a
// transaction that rolls back, and is checked when added, never inside somebody else's write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../gateway/core/log.js';
import { inTx, type LedgerContext } from '../../storage/context.js';
import { openDatabase } from '../../storage/db.js';
import { EVENTS_ALONG_LONGEST_DELAY_MS, EVENTS_ALONG_MAX_WAITING, EventsAlong } from '../../storage/events-along.js';
import { nextBatch } from '../../storage/outbox.js';
import { GATEWAY_ID, manualClock, openTestLedger, ROOM_SECRET, tempDir } from './helpers.js';

function ctxFor(path: string): LedgerContext {
  return { db: openDatabase({ path, logger: silentLogger() }), clock: manualClock(), logger: silentLogger(), gatewayId: GATEWAY_ID, bootId: 'b', roomSecret: ROOM_SECRET, clockTrusted: () => true };
}

const types = (ctx: LedgerContext): string[] => nextBatch(ctx, { maxCount: 100, maxBytes: 1_000_000 }).records.map((r) => r.type);

test('a status event rides on the next commit, before its records, in one commit', () => {
  const t = tempDir();
  const ledger = openTestLedger(t.file('l.db'));
  try {
    let commits = 0;
    ledger.outbox.onCommitted(() => commits++);
    ledger.enqueueEventAlong('machine_state', { machineId: 'W1', status: 'running' });
    assert.equal(ledger.outbox.stats().lastSeq, 0, 'not written yet');
    const h = ledger.hold({ method: 'service', funding: 'none', machineId: 'W1', amountCents: 0, ruleSetVersion: '1', ruleId: 's' });
    assert.ok(h.ok);
    assert.equal(commits, 1, 'one commit for the hold and the event');
    const recs = ledger.outbox.nextBatch({ maxCount: 10, maxBytes: 1_000_000 }).records;
    assert.deepEqual(recs.map((r) => r.type), ['machine_state', 'vend.hold'], 'seq order is the order things happened');
    assert.deepEqual(recs[0]?.payload, { machineId: 'W1', status: 'running' });
    // Written once: the next commit carries nothing more.
    ledger.enqueueEvent('remote_command', { n: 1 });
    assert.deepEqual(ledger.outbox.nextBatch({ maxCount: 10, maxBytes: 1_000_000 }).records.map((r) => r.type), ['machine_state', 'vend.hold', 'remote_command']);
  } finally {
    ledger.close();
    t.cleanup();
  }
});

test('alone when its time is up; kept through a transaction that rolls back; written at close', async () => {
  const t = tempDir();
  const ctx = ctxFor(t.file('l.db'));
  const along = new EventsAlong(ctx, 40);
  try {
    along.add('machine_state', { s: 'done' });
    assert.throws(() => inTx(ctx.db, () => {
      throw new Error('the write failed');
    }));
    assert.deepEqual(types(ctx), [], 'rolled back with the transaction');
    assert.equal(along.pending, 1, 'still waiting');
    await sleep(150);
    assert.deepEqual(types(ctx), ['machine_state'], 'written alone once its time was up');
    assert.equal(along.pending, 0);
    along.add('machine_state', { s: 'idle' });
    along.close();
    assert.deepEqual(types(ctx), ['machine_state', 'machine_state'], 'close writes what waits');
  } finally {
    along.close();
    ctx.db.close();
    t.cleanup();
  }
});

test('a bad event is refused when added, never inside the transaction it would ride on', () => {
  const t = tempDir();
  const ledger = openTestLedger(t.file('l.db'));
  try {
    assert.throws(() => ledger.enqueueEventAlong('vend.capture', {}), /own API/);
    assert.throws(() => ledger.enqueueEventAlong('Bad Type', {}));
    assert.throws(() => ledger.enqueueEventAlong('machine_state', undefined), /not JSON/);
    assert.ok(ledger.hold({ method: 'service', funding: 'none', machineId: 'W1', amountCents: 0, ruleSetVersion: '1', ruleId: 's' }).ok);
    assert.deepEqual(ledger.outbox.nextBatch({ maxCount: 10, maxBytes: 1_000_000 }).records.map((r) => r.type), ['vend.hold']);
  } finally {
    ledger.close();
    t.cleanup();
  }
});

test('what waits at close is there after a reopen', () => {
  const t = tempDir();
  try {
    const a = openTestLedger(t.file('l.db'));
    a.enqueueEventAlong('machine_state', { machineId: 'W2', status: 'idle' });
    a.close();
    const b = openTestLedger(t.file('l.db'));
    assert.deepEqual(b.outbox.nextBatch({ maxCount: 10, maxBytes: 1_000_000 }).records.map((r) => r.payload), [{ machineId: 'W2', status: 'idle' }]);
    b.close();
  } finally {
    t.cleanup();
  }
});

test('events that cannot be written are kept up to a bound: the oldest are dropped, memory stays bounded', () => {
  const t = tempDir();
  const ctx = ctxFor(t.file('l.db'));
  const along = new EventsAlong(ctx, 60_000);
  try {
    for (let i = 0; i < EVENTS_ALONG_MAX_WAITING + 5; i++) along.add('machine_state', { i });
    assert.equal(along.pending, EVENTS_ALONG_MAX_WAITING);
    along.close();
    const recs = nextBatch(ctx, { maxCount: EVENTS_ALONG_MAX_WAITING + 10, maxBytes: 10_000_000 }).records;
    assert.equal(recs.length, EVENTS_ALONG_MAX_WAITING);
    assert.deepEqual(recs[0]?.payload, { i: 5 }, 'the five oldest dropped');
    assert.deepEqual(recs.at(-1)?.payload, { i: EVENTS_ALONG_MAX_WAITING + 4 }, 'the newest kept');
  } finally {
    along.close();
    ctx.db.close();
    t.cleanup();
  }
});

test('an event may wait longer (a cycle\'s end); a shorter one due first takes it along; a bad delay is refused', async () => {
  const t = tempDir();
  const ctx = ctxFor(t.file('l.db'));
  const along = new EventsAlong(ctx, 40);
  try {
    along.add('machine_state', { s: 'idle' }, 60_000);
    await sleep(150);
    assert.deepEqual(types(ctx), [], 'still waiting past the default delay');
    along.add('machine_state', { s: 'fault' });
    await sleep(150);
    assert.deepEqual(types(ctx), ['machine_state', 'machine_state'], 'both written when the shorter one was due, in the order added');
    assert.equal(along.pending, 0);
    along.add('machine_state', { s: 'done' }, 60_000);
    along.add('machine_state', { s: 'idle' }, 30);
    await sleep(150);
    assert.equal(along.pending, 0, 'a shorter delay added later brings the timer forward');
    for (const bad of [-1, 1.5, EVENTS_ALONG_LONGEST_DELAY_MS + 1, Number.NaN]) assert.throws(() => along.add('machine_state', { s: 'x' }, bad), /delay/);
    assert.equal(along.pending, 0, 'a refused event does not wait');
  } finally {
    along.close();
    ctx.db.close();
    t.cleanup();
  }
});

test('flushEventsAlong writes what waits now, in one commit', () => {
  const t = tempDir();
  const ledger = openTestLedger(t.file('l.db'));
  try {
    let commits = 0;
    ledger.outbox.onCommitted(() => commits++);
    ledger.enqueueEventAlong('machine_state', { machineId: 'W1', status: 'done' }, 900_000);
    ledger.enqueueEventAlong('machine_state', { machineId: 'W2', status: 'idle' }, 900_000);
    ledger.flushEventsAlong();
    assert.equal(commits, 1);
    assert.deepEqual(ledger.outbox.nextBatch({ maxCount: 10, maxBytes: 1_000_000 }).records.map((r) => r.payload), [{ machineId: 'W1', status: 'done' }, { machineId: 'W2', status: 'idle' }]);
    ledger.flushEventsAlong();
    assert.equal(commits, 1, 'nothing waiting: no commit');
  } finally {
    ledger.close();
    t.cleanup();
  }
});
