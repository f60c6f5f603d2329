// The account's real numbers reach pricing: the room's local month (across DST), tenure in whole
// months, and end to end with the real daemon against the simulated room: a tenant's included
// washes are free until used up, then priced with the tenure discount; every Nth wash is free.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import { localMonthStartMs, tenureMonths } from '../../gateway/engine/account-pricing.js';
import { manualClock, openTestLedger } from '../storage/helpers.js';
import { CARDS, ROOM_ID, seedCards, startAttendant, startDaemon, startRoom, tempDir, testConfig, waitStatus, type TestRoom } from './harness.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

test('local month start: Berlin across both DST changes, New York on its fall-back day, UTC', () => {
  const berlin = 'Europe/Berlin';
  // March 2026 began in CET (+1); DST started on 29 March; April began in CEST (+2).
  assert.equal(localMonthStartMs(Date.UTC(2026, 2, 29, 3), berlin), Date.UTC(2026, 1, 28, 23));
  assert.equal(localMonthStartMs(Date.UTC(2026, 2, 31, 21, 59, 59, 999), berlin), Date.UTC(2026, 1, 28, 23));
  assert.equal(localMonthStartMs(Date.UTC(2026, 2, 31, 22), berlin), Date.UTC(2026, 2, 31, 22));
  assert.equal(localMonthStartMs(Date.UTC(2026, 3, 15), berlin), Date.UTC(2026, 2, 31, 22));
  // DST ended on 25 October: November begins in CET again.
  assert.equal(localMonthStartMs(Date.UTC(2026, 9, 25, 1, 30), berlin), Date.UTC(2026, 8, 30, 22));
  assert.equal(localMonthStartMs(Date.UTC(2026, 10, 25, 12), berlin), Date.UTC(2026, 9, 31, 23));
  // New York: DST ends at 02:00 on 1 November 2026, after the month began at 00:00 EDT (-4).
  assert.equal(localMonthStartMs(Date.UTC(2026, 10, 1, 7), 'America/New_York'), Date.UTC(2026, 10, 1, 4));
  assert.equal(localMonthStartMs(Date.UTC(2026, 10, 1, 3, 59), 'America/New_York'), Date.UTC(2026, 9, 1, 4));
  assert.equal(localMonthStartMs(Date.UTC(2026, 0, 1), 'UTC'), Date.UTC(2026, 0, 1));
  assert.equal(localMonthStartMs(Date.UTC(2026, 0, 31, 23, 59), 'UTC'), Date.UTC(2026, 0, 1));
  // Half-hour zone, and one ahead of UTC by more than 12 h.
  assert.equal(localMonthStartMs(Date.UTC(2026, 5, 10), 'Asia/Kolkata'), Date.UTC(2026, 4, 31, 18, 30));
  assert.equal(localMonthStartMs(Date.UTC(2026, 5, 10), 'Pacific/Kiritimati'), Date.UTC(2026, 4, 31, 10));
});

test('tenure: whole months on the room calendar, never negative', () => {
  const z = 'Europe/Berlin';
  const since = Date.UTC(2025, 0, 30, 23, 30); // 31 Jan 2025, 00:30 local
  assert.equal(tenureMonths(since, since, z), 0);
  assert.equal(tenureMonths(since, since - DAY, z), 0);
  assert.equal(tenureMonths(since, Date.UTC(2025, 1, 27, 23), z), 0); // 28 Feb local: not a whole month
  assert.equal(tenureMonths(since, Date.UTC(2025, 2, 1, 0), z), 1); // 1 Mar local
  assert.equal(tenureMonths(since, Date.UTC(2026, 0, 30, 23, 29), z), 11); // a minute short of a year
  assert.equal(tenureMonths(since, Date.UTC(2026, 0, 30, 23, 30), z), 12);
});

// End to end. Tenant bob: 2 included washes a month, 20 % off from 12 months' tenure. Everyone:
// every 5th wash free (washers only). History is written before the daemon starts, on the same
// file, with a clock in the past where it must be last month.
const BASE: Record<number, number> = { 1: 250, 2: 350, 3: 450, 4: 500, 5: 350, 6: 150 };
let sim: TestRoom;
let daemon: Daemon;
let stopAttendant: () => void;
const tmp = tempDir();

function seedHistory(path: string): void {
  const now = Date.now();
  const monthStart = localMonthStartMs(now, 'UTC');
  const clock = manualClock(monthStart - DAY);
  const l = openTestLedger(path, { clock, gatewayId: ROOM_ID });
  try {
    const vend = (accountId: string, machineKind: 'washer' | 'dryer'): void => {
      l.applyTopUp({ cloudId: `seed-${accountId}-${clock.now()}-${machineKind}`, accountId, amountCents: 500, accountVersion: 1 });
      const h = l.hold({ method: 'card', funding: 'account', machineId: machineKind === 'washer' ? 'W1' : 'D1', program: 1, machineKind, amountCents: 250, accountId, ruleSetVersion: 'old', ruleId: 'w-quick' });
      assert.ok(h.ok && l.markCreditSent(h.vendId, { seed: true }).ok && l.capture(h.vendId).ok);
      clock.advance(1000);
    };
    vend(CARDS.bob.accountId, 'washer'); // last month: not this month's, but a wash ever
    clock.set(Math.max(monthStart, now - 60_000));
    vend(CARDS.bob.accountId, 'washer'); // included wash 1 of 2
    for (let i = 0; i < 3; i++) vend(CARDS.alice.accountId, 'washer');
    vend(CARDS.alice.accountId, 'dryer'); // no wash: does not move every-5th
  } finally {
    l.close();
  }
}

before(async () => {
  const dbPath = tmp.file('ledger.db');
  seedHistory(dbPath);
  sim = await startRoom({ timeScale: 20_000 });
  stopAttendant = startAttendant(sim.room);
  const cfg = testConfig({ port: sim.port, dbPath });
  cfg.pricing = {
    ...cfg.pricing,
    tiers: [{ id: 'tenant', includedWashesPerMonth: 2, tenureSteps: [{ minMonths: 12, percentOff: 20 }] }],
    promotions: { nthFree: { id: 'every-5th', every: 5, kinds: ['washer'] } },
  };
  daemon = await startDaemon(cfg);
  seedCards(daemon.ledger, { alice: 5000 });
  daemon.ledger.applyAccountSnapshot({ accountId: CARDS.bob.accountId, version: 1, balanceCents: 5000, points: 0, tier: 'tenant', coveredSeq: 0, memberSinceMs: Date.now() - 400 * DAY });
  for (const id of ['W1', 'W2']) await waitStatus(daemon, id, ['idle']);
});

after(async () => {
  stopAttendant();
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

async function wash(who: 'alice' | 'bob', machineId: string): Promise<{ amountCents: number; program: number; ruleId: string }> {
  await waitStatus(daemon, machineId, ['idle']);
  const o = await daemon.engine.cardSwipe({ readerId: `r-${machineId}`, uid: CARDS[who].uid, machineId });
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') throw new Error('not captured');
  const v = daemon.ledger.getVend(o.vendId);
  assert.equal(v?.capturedCents, o.amountCents);
  return { amountCents: o.amountCents, program: o.program, ruleId: v?.ruleId ?? '' };
}

test('a tenant: the included wash left is free, then the tenure discount applies', async () => {
  const before = daemon.ledger.balance(CARDS.bob.accountId)?.balanceCents ?? 0;
  const free = await wash('bob', 'W1');
  assert.deepEqual([free.amountCents, free.ruleId], [0, 'tenant:included']);
  // Captured means the LW-485 confirmed the credit: it refuses a CREDIT of 0, so it was sent 1 ¢.
  assert.equal(daemon.ledger.balance(CARDS.bob.accountId)?.balanceCents, before);
  const paid = await wash('bob', 'W2');
  assert.equal(paid.ruleId, 'tenant');
  assert.equal(paid.amountCents, Math.floor((BASE[paid.program] ?? NaN) * 0.8));
  assert.equal(daemon.ledger.balance(CARDS.bob.accountId)?.balanceCents, before - paid.amountCents);
  const usage = daemon.ledger.accountUsage(CARDS.bob.accountId, { monthStartMs: localMonthStartMs(Date.now(), 'UTC') });
  assert.equal(usage.washesThisMonth, 3);
  assert.equal(usage.lifetimeByKind.washer, 4);
});

test('every 5th wash is free; the dryer vend in between does not count', async () => {
  const fourth = await wash('alice', 'W1');
  assert.equal(fourth.amountCents, BASE[fourth.program]);
  const fifth = await wash('alice', 'W2');
  assert.deepEqual([fifth.amountCents, fifth.ruleId], [0, 'every-5th']);
  const sixth = await wash('alice', 'W1');
  assert.equal(sixth.amountCents, BASE[sixth.program]);
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
  assert.equal(daemon.ledger.verifyAudit().ok, true);
});

test('item 7: two vends at once on two machines cannot both get the last included wash', async () => {
  const tina = { uid: '04AA00BB11CC22', accountId: 'acct-tina' };
  daemon.ledger.applyCardList({ kind: 'diff', version: daemon.ledger.cardListVersion() + 1, baseVersion: daemon.ledger.cardListVersion(), cards: [{ uid: tina.uid, accountId: tina.accountId, status: 'active' }] });
  daemon.ledger.applyAccountSnapshot({ accountId: tina.accountId, version: 1, balanceCents: 5000, points: 0, tier: 'tenant', coveredSeq: 0 });
  const first = await daemon.engine.cardSwipe({ readerId: 'r-W1', uid: tina.uid, machineId: 'W1' });
  assert.equal(first.result === 'captured' ? first.amountCents : NaN, 0, 'included wash 1 of 2');
  await waitStatus(daemon, 'W1', ['idle']);
  await waitStatus(daemon, 'W2', ['idle']);
  const both = await Promise.all(['W1', 'W2'].map((m) => daemon.engine.cardSwipe({ readerId: `r-${m}`, uid: tina.uid, machineId: m })));
  const amounts = both.map((o) => (o.result === 'captured' ? o.amountCents : NaN)).sort((a, b) => a - b);
  assert.equal(amounts[0], 0, JSON.stringify(both));
  assert.ok((amounts[1] ?? 0) > 0, `the other one is paid: ${JSON.stringify(both)}`);
  const usage = daemon.ledger.accountUsage(tina.accountId, { monthStartMs: localMonthStartMs(Date.now(), 'UTC') });
  assert.equal(usage.washesThisMonth, 3);
});
