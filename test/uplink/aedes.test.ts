// The demo broker is aedes, in-process and MQTT 3.1.1 only: the uplink must work with
// protocolVersion 4 against it (no session expiry property, the rest the same).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { ROOM, cloudKeys, enqueue, makeConsumer, makeUplink, storedInOrder, tempDir, testLedger, waitFor } from './helpers.js';

test('protocolVersion 4 against aedes: batches delivered and acked, downlinks applied', async () => {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  enqueue(ledger, 120);
  const keys = cloudKeys();
  const cloud = await makeConsumer(url, t.file('cloud.db'), { protocolVersion: 4, signingKey: keys.privateKey });
  const up = makeUplink(ledger, url, {}, { protocolVersion: 4, batch: { maxCount: 50 }, configPublicKey: keys.publicB64 });
  try {
    await up.start();
    await waitFor(() => ledger.outbox.stats().depth === 0, 'drained');
    assert.ok(storedInOrder(cloud, 120));
    await cloud.publishTopUps(ROOM, [{ cloudId: 'a-1', accountId: 'acc', amountCents: 250, accountVersion: 1 }]);
    await waitFor(() => ledger.balance('acc')?.balanceCents === 250, 'top-up applied');
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    t.cleanup();
  }
});
