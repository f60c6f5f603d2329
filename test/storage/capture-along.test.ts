// A setting stored in the capture's own transaction (the engine's risk state: one fsync'd
// commit less per vend). It commits with the capture, and a failure of it never undoes one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { defineSetting } from '../../storage/index.js';
import { cardHold, openTestLedger, tempDir, withFaultyLedger } from './helpers.js';

const COUNT = defineSetting('test.along', z.strictObject({ n: z.number().int() }));

function creditedVend(l: ReturnType<typeof openTestLedger>): string {
  l.applyTopUp({ cloudId: `seed-${Math.random()}`, accountId: 'a', amountCents: 1000, accountVersion: Date.now() });
  const h = l.hold(cardHold('a', 400));
  assert.ok(h.ok);
  assert.ok(l.markCreditSent(h.vendId, { kind: 'lw485', seq: 1 }).ok);
  return h.vendId;
}

test('capture with a setting: both in one commit', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    const vendId = creditedVend(l);
    let commits = 0;
    const off = l.outbox.onCommitted(() => commits++);
    const r = l.capture(vendId, {}, { setting: COUNT, value: { n: 1 } });
    off();
    assert.deepEqual(r.ok && r.alsoStored, true);
    assert.equal(commits, 1, 'one transaction');
    assert.equal(l.getVend(vendId)?.state, 'captured');
    assert.deepEqual(l.readSetting(COUNT), { status: 'ok', value: { n: 1 } });
  } finally {
    l.close();
    t.cleanup();
  }
});

test('capture with a setting that fails: the capture commits alone, alsoStored false', () =>
  withFaultyLedger((l, faults) => {
    const vendId = creditedVend(l);
    faults.fail({ code: 'SQLITE_IOERR', op: 'capture', sql: /INSERT INTO settings/ });
    const r = l.capture(vendId, {}, { setting: COUNT, value: { n: 2 } });
    assert.deepEqual(r.ok && r.alsoStored, false);
    assert.equal(faults.injected, 1);
    assert.equal(l.getVend(vendId)?.state, 'captured');
    assert.deepEqual(l.readSetting(COUNT), { status: 'missing' });
    assert.equal(l.balance('a')?.balanceCents, 600);
    assert.ok(l.selfCheck().ok);
    assert.ok(l.verifyAudit().ok);
  }));

test('a setting its schema refuses does not undo the capture either', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    const vendId = creditedVend(l);
    const r = l.capture(vendId, {}, { setting: COUNT, value: { n: 1.5 } });
    assert.deepEqual(r.ok && r.alsoStored, false);
    assert.equal(l.getVend(vendId)?.state, 'captured');
  } finally {
    l.close();
    t.cleanup();
  }
});
