// The sum over the vends behind the unsynced exposure (what the self-check holds the running
// tally of migration 9 to, storage/check.ts) must read its covering index only (migration 8),
// never the vends rows themselves: the self-check runs at every start-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../gateway/core/log.js';
import { applyTopUp } from '../../storage/accounts.js';
import type { LedgerContext } from '../../storage/context.js';
import { openDatabase } from '../../storage/db.js';
import { ack } from '../../storage/outbox.js';
import { capture, hold, markCreditSent, refund, unsyncedExposure, unsyncedExposurePlan } from '../../storage/vends.js';
import { GATEWAY_ID, manualClock, ROOM_SECRET, tempDir } from './helpers.js';

function ctxFor(path: string): LedgerContext {
  return { db: openDatabase({ path, logger: silentLogger() }), clock: manualClock(), logger: silentLogger(), gatewayId: GATEWAY_ID, bootId: 'b', roomSecret: ROOM_SECRET, clockTrusted: () => true };
}

test('unsynced exposure reads only its covering index', () => {
  const t = tempDir('ledger-', true);
  const ctx = ctxFor(t.file('l.db'));
  try {
    const plan = unsyncedExposurePlan(ctx).join(' | ');
    assert.match(plan, /USING COVERING INDEX vends_unsynced_cost/, plan);
    assert.doesNotMatch(plan, /SCAN vends/, plan);
  } finally {
    ctx.db.close();
    t.cleanup();
  }
});

test('unsynced exposure sums what it summed before the index: held, captured, refunded, acked', () => {
  const t = tempDir('ledger-', true);
  const ctx = ctxFor(t.file('l.db'));
  try {
    for (const a of ['acct-a', 'acct-b']) applyTopUp(ctx, { cloudId: `t-${a}`, accountId: a, amountCents: 100_000, accountVersion: 1 });
    const vend = (accountId: string, amountCents: number): string => {
      const h = hold(ctx, { method: 'card', funding: 'account', machineId: 'W1', amountCents, accountId, ruleSetVersion: '1', ruleId: 'r' });
      assert.ok(h.ok);
      return h.vendId;
    };
    vend('acct-a', 300);
    const captured = vend('acct-a', 250);
    markCreditSent(ctx, captured, { seq: 1 });
    capture(ctx, captured, { amountCents: 200 });
    const refunded = vend('acct-b', 400);
    // A partial refund: 100 of 400 back, 300 still exposed.
    refund(ctx, refunded, { amountCents: 100, reason: 'machine_offline' });
    // A token-funded vend is not exposure.
    assert.ok(hold(ctx, { method: 'qr', funding: 'token', machineId: 'W2', amountCents: 500, tokenId: 'ab12', tokenExpiresAt: 2_000_000_000, ruleSetVersion: '1', ruleId: 'r' }).ok);
    assert.deepEqual(unsyncedExposure(ctx, 'acct-a'), { accountCents: 500, roomCents: 800 });
    assert.deepEqual(unsyncedExposure(ctx, 'acct-b'), { accountCents: 300, roomCents: 800 });
    assert.deepEqual(unsyncedExposure(ctx, null), { accountCents: 0, roomCents: 800 });
    // Everything so far acknowledged; one more hold is all that is exposed.
    const last = (ctx.db.prepare("SELECT value FROM meta WHERE key = 'outbox_last_seq'").get() as { value: string }).value;
    ack(ctx, Number(last));
    vend('acct-b', 150);
    assert.deepEqual(unsyncedExposure(ctx, 'acct-a'), { accountCents: 0, roomCents: 150 });
    assert.deepEqual(unsyncedExposure(ctx, 'acct-b'), { accountCents: 150, roomCents: 150 });
  } finally {
    ctx.db.close();
    t.cleanup();
  }
});
