// The uplink is event-driven: a committed outbox record wakes it (the ledger's commit notice),
// so the record goes upstream within the batch wait, not at the next poll. The poll is set to
// its maximum (60 s) and the test's deadline is far below it: a record that arrives came on the
// commit notice. Real Mosquitto, real ledger file, the reference consumer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { ROOM, enqueue, makeConsumer, makeUplink, tempDir, testLedger, waitFor } from './helpers.js';

let broker: Broker;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

test('kick: each committed record goes upstream on the commit notice, not at the (60 s) poll', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'));
  const up = makeUplink(ledger, broker.url, {}, { batch: { pollMs: 60_000, maxWaitMs: 20 } });
  await up.start();
  try {
    await waitFor(() => up.stats().connected, 'connected');
    // Let the pump's first (empty) read settle into its 60 s poll.
    await new Promise((r) => setTimeout(r, 200));
    for (let round = 0; round < 3; round++) {
      enqueue(ledger, 1, round);
      await waitFor(() => cloud.count(ROOM) === round + 1 && ledger.outbox.stats().depth === 0, `record ${round + 1} stored and acked`, 10_000);
    }
    // A burst shares batches (the batch wait holds them), and all of it goes.
    enqueue(ledger, 40, 3);
    await waitFor(() => cloud.count(ROOM) === 43 && ledger.outbox.stats().depth === 0, 'burst stored and acked', 10_000);
    assert.ok(cloud.stats.batches < 43, `a burst shares batches (${cloud.stats.batches} batches)`);
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

test('kick: one notice per committed outbox write; other commits and refused writes say nothing; unsubscribed listeners hear nothing', () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  try {
    let calls = 0;
    const off = ledger.outbox.onCommitted(() => calls++);
    enqueue(ledger, 2);
    assert.equal(calls, 2, 'one notice per committed transaction');
    ledger.setSetting('x', 'y');
    assert.equal(calls, 2, 'a commit without outbox records says nothing');
    assert.throws(() => ledger.enqueueEvent('vend.fake', {}));
    assert.equal(calls, 2);
    off();
    enqueue(ledger, 1);
    assert.equal(calls, 2);
  } finally {
    ledger.close();
    t.cleanup();
  }
});
