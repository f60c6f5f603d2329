// Several batches in flight (batch.window): the window fills and no further, one watermark ack
// retires every batch below it, an ack inside a batch drops the rest of the window and reads it
// again, a lost connection resends the whole window in order, and the cloud acks only a stream
// it holds without a hole. Real Mosquitto, real ledger files, the reference consumer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { batchSchema, type Ack, type Batch } from '../../protocols/mqtt/payloads.js';
import { roomTopics } from '../../protocols/mqtt/topics.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { ROOM, enqueue, makeConsumer, makeUplink, storedInOrder, tempDir, testLedger, waitFor } from './helpers.js';

let broker: Broker;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

/** The batches the consumer received, in arrival order, as the gateway encoded them. */
function recorder(): { seen: Batch[]; onBatchPayload: (p: Buffer) => void; ids: () => string[] } {
  const seen: Batch[] = [];
  return {
    seen,
    onBatchPayload: (p) => seen.push(batchSchema.parse(JSON.parse(p.toString('utf8')))),
    ids: () => seen.map((b) => `${b.batchId}@${b.afterSeq ?? '-'}`),
  };
}

test('window: three batches go out without waiting, no more; one ack retires all three; each continues the one before', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  enqueue(ledger, 50);
  const rec = recorder();
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'), { policy: () => 'ignore', onBatchPayload: rec.onBatchPayload });
  const up = makeUplink(ledger, broker.url, {}, { batch: { maxCount: 10, window: 3, ackTimeoutMs: 60_000, ackTimeoutMaxMs: 60_000 } });
  await up.start();
  try {
    await waitFor(() => rec.seen.length >= 3 && cloud.stats.commits >= 1, 'three batches stored');
    // Give a fourth batch every chance to (wrongly) leave.
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(rec.ids(), ['1-10@0', '11-20@10', '21-30@20']);
    assert.equal(up.stats().inFlightBatches, 3);
    assert.equal(ledger.outbox.stats().ackedSeq, 0, 'PUBACKs retire nothing');
    cloud.sendAck(ROOM, { v: 1, gatewayId: ROOM, batchId: '21-30', upToSeq: 30 });
    await waitFor(() => rec.seen.length >= 5, 'the window refilled');
    assert.deepEqual(rec.ids().slice(3), ['31-40@30', '41-50@40']);
    assert.equal(ledger.outbox.stats().ackedSeq, 30);
    assert.equal(up.stats().batchesAcked, 3);
    cloud.policy = () => 'ack';
    cloud.sendAck(ROOM, { v: 1, gatewayId: ROOM, upToSeq: 50 });
    await waitFor(() => ledger.outbox.stats().depth === 0 && up.stats().inFlightBatches === 0, 'drained');
    assert.ok(storedInOrder(cloud, 50));
    assert.equal(up.stats().resends, 0);
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

test('window: an ack inside a batch retires what it covers; the rest of the window is read and sent again from there', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  enqueue(ledger, 45);
  const rec = recorder();
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'), { policy: () => 'ignore', onBatchPayload: rec.onBatchPayload });
  const up = makeUplink(ledger, broker.url, {}, { batch: { maxCount: 10, window: 3, ackTimeoutMs: 60_000, ackTimeoutMaxMs: 60_000 } });
  await up.start();
  try {
    await waitFor(() => rec.seen.length >= 3, 'three batches out');
    cloud.sendAck(ROOM, { v: 1, gatewayId: ROOM, upToSeq: 15 });
    await waitFor(() => rec.seen.length >= 6, 'the window read again from 16');
    assert.deepEqual(rec.ids().slice(3), ['16-25@15', '26-35@25', '36-45@35']);
    assert.equal(ledger.outbox.stats().ackedSeq, 15);
    assert.equal(up.stats().inFlight?.batchId, '16-25');
    cloud.policy = () => 'ack';
    cloud.sendAck(ROOM, { v: 1, gatewayId: ROOM, upToSeq: 15 });
    // Nothing moves on a stale ack; the ack timeout is a minute, so finish with the cloud's word.
    cloud.sendAck(ROOM, { v: 1, gatewayId: ROOM, upToSeq: 45 });
    await waitFor(() => ledger.outbox.stats().depth === 0, 'drained');
    assert.ok(storedInOrder(cloud, 45));
    assert.ok(cloud.stats.duplicates >= 15, 'the re-read records were stored once');
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

test('window: the connection lost with several batches in flight; the whole window goes again, in order, and lands once', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  enqueue(ledger, 120);
  const rec = recorder();
  let cut: Promise<void> | null = null;
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'), { onBatchPayload: rec.onBatchPayload });
  // The cloud stores the first window and dies before acking it; the broker goes down with it.
  cloud.policy = () => {
    cut ??= broker.kill().then(() => broker.start());
    return 'ignore';
  };
  const up = makeUplink(ledger, broker.url, {}, { batch: { maxCount: 10, window: 4 } });
  await up.start();
  try {
    await waitFor(() => cut !== null, 'the cut');
    await cut;
    cloud.policy = () => 'ack';
    await waitFor(() => ledger.outbox.stats().depth === 0, 'drained after the reconnect');
    assert.ok(storedInOrder(cloud, 120));
    assert.ok(up.stats().connects >= 2);
    assert.ok(up.stats().resends >= 2, `several batches resent (${up.stats().resends})`);
    // Every batch the cloud saw starts right after the previous one or after the watermark.
    for (const b of rec.seen) assert.ok(b.afterSeq !== undefined && b.afterSeq === b.fromSeq - 1);
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

test('consumer: a batch after a hole in the stream is stored but not acked; the resend fills the hole and the ack covers both', async () => {
  const t = tempDir();
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'));
  const gw = mqtt.connect(broker.url, { protocolVersion: 5, clientId: 'window-test-gw' });
  const acks: Ack[] = [];
  const topics = roomTopics(ROOM);
  try {
    await new Promise<void>((resolve) => gw.once('connect', () => resolve()));
    gw.on('message', (_topic, p) => acks.push(JSON.parse(p.toString('utf8')) as Ack));
    await gw.subscribeAsync(topics.down('ack'), { qos: 1 });
    const batch = (from: number, to: number, afterSeq: number, ackedSeq: number): string => {
      const records = [];
      for (let s = from; s <= to; s++) records.push({ seq: s, id: `id-${s}`, type: 'test.vend', money: false, createdMs: 1, payload: { n: s - 1 } });
      const b: Batch = { v: 1, gatewayId: ROOM, batchId: `${from}-${to}`, fromSeq: from, toSeq: to, afterSeq, ackedSeq, records, auditHead: { seq: 0, hash: '' }, sentAt: 1 };
      return JSON.stringify(b);
    };
    const send = (p: string): Promise<unknown> => gw.publishAsync(topics.up('batch'), p, { qos: 1 });
    await send(batch(1, 2, 0, 0));
    await waitFor(() => acks.length === 1, 'ack of 1-2');
    assert.equal(acks[0]?.upToSeq, 2);
    // 3-4 is lost on the way; 5-6 arrives.
    await send(batch(5, 6, 4, 0));
    await waitFor(() => cloud.stats.outOfStream === 1, 'the batch after the hole seen');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(acks.length, 1, 'no ack past the hole');
    assert.equal(cloud.count(ROOM), 4, 'stored anyway (deduped when it comes again)');
    // The gateway resends its window from the oldest: 3-4, then 5-6.
    await send(batch(3, 4, 2, 0));
    await send(batch(5, 6, 4, 0));
    await waitFor(() => acks.some((a) => a.upToSeq === 6), 'ack of the whole stream');
    assert.ok(acks.every((a) => a.upToSeq <= 6));
    assert.ok(storedInOrder(cloud, 6));
    // A first batch after the gateway's watermark (acked by an earlier cloud) needs no history here.
    await send(batch(20, 21, 19, 19));
    await waitFor(() => acks.some((a) => a.upToSeq === 21), 'ack of a batch continuing the gateway watermark');
  } finally {
    await gw.endAsync(true);
    await cloud.stop();
    t.cleanup();
  }
});
