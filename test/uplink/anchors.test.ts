// Issue 13 item 1, the anchors: over a real Mosquitto, each batch carries the ledger's audit and
// money heads, the reference cloud consumer keeps them and acks them back, the gateway keeps the
// newest as the anchors `audit verify` proves; the cloud's heads prove the file was not rewritten.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { cardHold } from '../storage/helpers.js';
import { makeConsumer, makeUplink, ROOM, tempDir, testLedger, waitFor } from './helpers.js';

let broker: Broker;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

test('the cloud acks the chain heads it stored; the ledger proves them, and the cloud\'s copy proves the file', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'));
  const up = makeUplink(ledger, broker.url);
  try {
    await up.start();
    ledger.applyTopUp({ cloudId: 'top-1', accountId: 'acct', amountCents: 2000, accountVersion: 1 });
    const h = ledger.hold(cardHold('acct', 250));
    assert.ok(h.ok && ledger.markCreditSent(h.vendId, { seq: 1 }).ok && ledger.capture(h.vendId).ok);
    const last = ledger.outbox.stats().lastSeq;
    await waitFor(() => ledger.outbox.stats().ackedSeq === last, 'every record acked');
    const stored = cloud.heads(ROOM);
    assert.deepEqual(stored.moneyHead, ledger.moneyHead(), 'the cloud holds the money head');
    assert.deepEqual(stored.auditHead, ledger.auditHead(), 'the cloud holds the audit head');
    await waitFor(() => {
      const v = ledger.verifyAudit();
      return v.ok && v.anchors.filter((a) => a.source === 'acknowledged' && a.result === 'contained').length === 2;
    }, 'both acknowledged heads kept and proved');
    const v = ledger.verifyAudit({ audit: stored.auditHead, money: stored.moneyHead });
    assert.ok(v.ok, JSON.stringify(v));
    assert.deepEqual(v.anchors.map((a) => `${a.chain}/${a.source}:${a.result}`).sort(), ['audit/acknowledged:contained', 'audit/given:contained', 'money/acknowledged:contained', 'money/given:contained']);
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});
