// Store-and-forward against a real Mosquitto: outages, restarts, lost acks, duplicate and
// out-of-order acks. The cloud side is the reference consumer with per-test ack policies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { ROOM, enqueue, makeConsumer, makeUplink, storedInOrder, tempDir, testLedger, waitFor } from './helpers.js';

let broker: Broker;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

test('vends queued while the broker is down are all delivered once, in order, when it comes up', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  await broker.kill();
  const up = makeUplink(ledger, broker.url);
  await up.start();
  enqueue(ledger, 250);
  await broker.start();
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'));
  try {
    await waitFor(() => ledger.outbox.stats().depth === 0, 'outbox drained');
    assert.ok(storedInOrder(cloud, 250));
    assert.equal(cloud.stats.duplicates, 0);
    assert.equal(ledger.outbox.stats().ackedSeq, 250);
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});
