// The tests' reference consumer refuses what the fleet ingest refuses (cloud/pg-text.ts): a batch
// whose payload nests thousands of levels deep made JSON.stringify throw in its flush, which
// ended the process, and the gateway's resend would end it again. Refused, counted, never acked;
// the next good batch is stored as usual.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { ROOM, enqueue, makeConsumer, makeUplink, storedInOrder, tempDir, testLedger, waitFor } from './helpers.js';

test('reference consumer: a payload nested 5 000 deep is refused with a reason; the process stays up and stores the next batches', async () => {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  const cloud = await makeConsumer(url, t.file('cloud.db'), { protocolVersion: 4 });
  const hostile = await mqtt.connectAsync(url, { protocolVersion: 4 });
  const up = makeUplink(ledger, url, {}, { protocolVersion: 4 });
  try {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const batch = `{"v":1,"gatewayId":"${ROOM}","fromSeq":1,"toSeq":1,"records":[{"seq":1,"id":"x","type":"alert","money":false,"createdMs":1,"payload":${deep}}]}`;
    await hostile.publishAsync(`laundry/v1/${ROOM}/up/batch`, batch, { qos: 1 });
    await waitFor(() => cloud.stats.invalid === 1, 'the deep batch refused');
    assert.match(cloud.refused.at(-1)?.reason ?? '', /nested deeper than 1000 levels/);
    enqueue(ledger, 20);
    await up.start();
    await waitFor(() => ledger.outbox.stats().depth === 0, 'the real batches drained');
    assert.ok(storedInOrder(cloud, 20));
  } finally {
    await hostile.endAsync();
    await up.stop();
    await cloud.stop();
    ledger.close();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    t.cleanup();
  }
});
