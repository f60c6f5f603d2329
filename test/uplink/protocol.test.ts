// The wire contract without a broker: topics, payload schemas, signing, the batch state logic
// (when to send, what an ack means, how long to wait) and the reconnect backoff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { generateKeyPairSync } from 'node:crypto';
import { z } from 'zod';
import { DOWN_NAMES, UP_NAMES, parseTopic, roomTopics, allUplinksFilter } from '../../protocols/mqtt/topics.js';
import { DOWN_SCHEMAS, UP_SCHEMAS, ackSchema, batchSchema, parseBatch, remoteCommandSchema } from '../../protocols/mqtt/payloads.js';
import { signText, verifyText } from '../../protocols/mqtt/signing.js';
import { READ_SLICE_RECORDS, ackTimeoutMs, ackWindow, addSlice, encodeBatch, encodeBatchText, nextSlice, planAck, waitBeforeSending, type InFlight } from '../../gateway/uplink/batcher.js';
import { reconnectDelayMs } from '../../gateway/uplink/link.js';
import { mqttConfigSchema } from '../../gateway/uplink/config-schema.js';
import type { OutboxBatch } from '../../storage/index.js';
import { checkSchemas } from '../../scripts/gen-schemas.js';
import { tempDir, testLedger } from './helpers.js';

const cfg = mqttConfigSchema.parse({ url: 'mqtt://127.0.0.1:1883' });

test('mqtt config: defaults, protocol 4 or 5 only, a config key of the wrong length is refused', () => {
  assert.equal(cfg.protocolVersion, 5);
  assert.equal(cfg.batch.maxCount, 500);
  assert.equal(mqttConfigSchema.safeParse({ url: 'mqtt://h', protocolVersion: 3 }).success, false);
  assert.equal(mqttConfigSchema.safeParse({ url: 'http://h' }).success, false);
  assert.equal(mqttConfigSchema.safeParse({ url: 'mqtt://h', extra: 1 }).success, false);
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  assert.equal(mqttConfigSchema.safeParse({ url: 'mqtts://h', configPublicKey: Buffer.from(raw).toString('base64url') }).success, true);
  assert.equal(mqttConfigSchema.safeParse({ url: 'mqtts://h', configPublicKey: 'A'.repeat(44) }).success, false);
});

test('topics: built and parsed back; wildcards and foreign layouts are refused', () => {
  const t = roomTopics('room-1');
  assert.equal(t.up('batch'), 'laundry/v1/room-1/up/batch');
  assert.equal(t.state('W1'), 'laundry/v1/room-1/up/state/W1');
  assert.equal(t.downFilter, 'laundry/v1/room-1/down/+');
  assert.equal(allUplinksFilter(), 'laundry/v1/+/up/#');
  for (const n of DOWN_NAMES) assert.deepEqual(parseTopic(t.down(n)), { direction: 'down', roomId: 'room-1', name: n });
  for (const n of UP_NAMES) if (n !== 'state') assert.deepEqual(parseTopic(t.up(n)), { direction: 'up', roomId: 'room-1', name: n, machineId: null });
  assert.deepEqual(parseTopic(t.state('D2')), { direction: 'up', roomId: 'room-1', name: 'state', machineId: 'D2' });
  assert.throws(() => roomTopics('room/+'));
  assert.throws(() => t.state('#'));
  for (const bad of ['laundry/v1/room-1/down/ack/x', 'laundry/v1/room-1/down/nope', 'laundry/v2/room-1/down/ack', 'laundry/v1/room-1/up/state', 'laundry/v1/+/down/ack', 'x']) assert.equal(parseTopic(bad), null, bad);
  fc.assert(fc.property(fc.string(), (s) => parseTopic(s) === null || typeof parseTopic(s) === 'object'));
});

test('every payload schema converts to JSON Schema, and the committed docs/schemas match', () => {
  for (const s of [...Object.values(UP_SCHEMAS), ...Object.values(DOWN_SCHEMAS), remoteCommandSchema]) assert.equal(typeof z.toJSONSchema(s), 'object');
  assert.deepEqual(checkSchemas(), [], 'run: node --import tsx scripts/gen-schemas.ts');
});

test('payloads are strict: unknown fields, fractional cents and negative seqs are refused', () => {
  assert.equal(ackSchema.safeParse({ v: 1, gatewayId: 'g', upToSeq: 3 }).success, true);
  assert.equal(ackSchema.safeParse({ v: 1, gatewayId: 'g', upToSeq: 3, extra: 1 }).success, false);
  assert.equal(ackSchema.safeParse({ v: 2, gatewayId: 'g', upToSeq: 3 }).success, false);
  assert.equal(ackSchema.safeParse({ v: 1, gatewayId: 'g', upToSeq: -1 }).success, false);
  assert.equal(DOWN_SCHEMAS.topups.safeParse({ v: 1, topUps: [{ cloudId: 'c', accountId: 'a', amountCents: 1.5 }] }).success, false);
  const rec = (seq: number) => ({ seq, id: `id${seq}`, type: 't', money: false, createdMs: 1, payload: {} });
  const b = { v: 1, gatewayId: 'g', batchId: '1-2', fromSeq: 1, toSeq: 2, records: [rec(1), rec(2)], auditHead: { seq: 0, hash: '' }, sentAt: 1 };
  assert.equal(batchSchema.safeParse(b).success, true);
  assert.equal(batchSchema.safeParse({ ...b, records: [rec(2), rec(1)], fromSeq: 2, toSeq: 1 }).success, false);
  const cmd = { type: 'remote-command', roomId: 'r', id: 'c1', machineId: 'W1', kind: 'addTime', issuedAtSec: 10, expiresAtSec: 20 };
  assert.equal(remoteCommandSchema.safeParse(cmd).success, false, 'addTime needs args');
  assert.equal(remoteCommandSchema.safeParse({ ...cmd, args: { minutes: 5, amountCents: 50 } }).success, true);
  assert.equal(remoteCommandSchema.safeParse({ ...cmd, kind: 'start' }).success, true);
  assert.equal(remoteCommandSchema.safeParse({ ...cmd, kind: 'start', type: 'room-config' }).success, false);
});

test('signing: exact bytes verify; any change, another key or a malformed signature does not', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519').publicKey;
  const text = '{"type":"room-config","version":1,"name":"Wäscherei"}';
  const sig = signText(privateKey, text);
  assert.equal(verifyText(publicKey, text, sig), true);
  assert.equal(verifyText(publicKey, text.replace('1', '2'), sig), false);
  assert.equal(verifyText(publicKey, `${text} `, sig), false);
  assert.equal(verifyText(other, text, sig), false);
  assert.equal(verifyText(publicKey, text, 'AAAA'), false);
});

function outbox(seqs: number[], createdMs = 1000, payload: unknown = { x: 1 }): OutboxBatch {
  return { gatewayId: 'g', auditHead: { seq: 4, hash: 'ab' }, records: seqs.map((seq) => ({ seq, id: `id-${seq}`, type: 't', money: true, createdMs, payload })) };
}

test('batcher: a full batch goes now, a small one waits for its oldest record to age; encoding is the wire schema', () => {
  const limits = { ...cfg.batch, maxCount: 3, maxWaitMs: 500 };
  assert.equal(waitBeforeSending(outbox([]), limits, 1000), Infinity);
  assert.equal(waitBeforeSending(outbox([1, 2, 3]), limits, 1000), 0);
  assert.equal(waitBeforeSending(outbox([1]), limits, 1100), 400);
  assert.equal(waitBeforeSending(outbox([1]), limits, 9999), 0);
  assert.equal(waitBeforeSending(outbox([1], 1000, { big: 'x'.repeat(limits.maxBytes) }), limits, 1000), 0);
  // Wall clock set back an hour: createdMs is in the future, yet the wait stays bounded.
  assert.equal(waitBeforeSending(outbox([1], 1000 + 3_600_000), limits, 1000, 0), 500);
  assert.equal(waitBeforeSending(outbox([1], 1000 + 3_600_000), limits, 1000, 500), 0);
  const f = encodeBatch(outbox([5, 6, 8]), 1234);
  assert.equal(f.batchId, '5-8');
  const parsed = batchSchema.parse(JSON.parse(f.payload.toString()));
  assert.deepEqual(parsed.records.map((r) => r.seq), [5, 6, 8]);
  assert.deepEqual(parsed.auditHead, { seq: 4, hash: 'ab' });
});

test('batcher: which acks retire the batch in flight; dead letters only at or below upToSeq', () => {
  const f: InFlight = { batchId: '11-20', fromSeq: 11, toSeq: 20, count: 10, afterSeq: 10, attempts: 1, payload: Buffer.alloc(0) };
  assert.deepEqual(ackWindow([f], 10), { retired: 0, keep: [f], dropped: 0 }, 'an older ack');
  assert.deepEqual(ackWindow([f], 11), { retired: 0, keep: [], dropped: 1 }, 'partial: the rest goes again');
  assert.deepEqual(ackWindow([f], 20), { retired: 1, keep: [], dropped: 0 });
  assert.deepEqual(ackWindow([f], 99), { retired: 1, keep: [], dropped: 0 });
  assert.deepEqual(ackWindow([], 20), { retired: 0, keep: [], dropped: 0 });
  const plan = planAck({ v: 1, gatewayId: 'g', upToSeq: 20, rejected: [{ seq: 12, reason: 'a' }, { seq: 14, reason: 'a' }, { seq: 15, reason: 'b' }, { seq: 30, reason: 'a' }] });
  assert.deepEqual(plan.deadLetters, [{ reason: 'a', seqs: [12, 14] }, { reason: 'b', seqs: [15] }]);
  assert.equal(plan.ignoredRejections, 1);
});

test('timeouts: ack waits double up to the cap; reconnect delays grow, cap and jitter downwards', () => {
  const limits = { ...cfg.batch, ackTimeoutMs: 1000, ackTimeoutMaxMs: 8000 };
  assert.deepEqual([1, 2, 3, 4, 5, 50].map((a) => ackTimeoutMs(a, limits, () => 0)), [1000, 2000, 4000, 8000, 8000, 8000]);
  assert.equal(ackTimeoutMs(1, limits, () => 1), 1200);
  const r = { ...cfg.reconnect, minMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };
  assert.deepEqual([0, 1, 2, 3, 4, 100].map((a) => reconnectDelayMs(a, r, () => 0)), [100, 200, 400, 800, 1000, 1000]);
  fc.assert(fc.property(fc.nat(200), fc.double({ min: 0, max: 1, noNaN: true }), (a, x) => {
    const d = reconnectDelayMs(a, r, () => x);
    return d >= 50 && d <= 1000;
  }));
});

function inFlight(fromSeq: number, toSeq: number): InFlight {
  return { batchId: `${fromSeq}-${toSeq}`, fromSeq, toSeq, count: toSeq - fromSeq + 1, afterSeq: fromSeq - 1, attempts: 1, payload: Buffer.alloc(0) };
}

test('window: a watermark ack retires the batches it covers whole; inside a batch it drops the rest of the window', () => {
  const w = [inFlight(1, 10), inFlight(11, 20), inFlight(21, 30)];
  assert.deepEqual(ackWindow(w, 0), { retired: 0, keep: w, dropped: 0 }, 'stale');
  assert.deepEqual(ackWindow(w, 10), { retired: 1, keep: w.slice(1), dropped: 0 });
  assert.deepEqual(ackWindow(w, 20), { retired: 2, keep: w.slice(2), dropped: 0 });
  assert.deepEqual(ackWindow(w, 99), { retired: 3, keep: [], dropped: 0 }, 'above the window');
  assert.deepEqual(ackWindow(w, 15), { retired: 1, keep: [], dropped: 2 }, 'inside 11-20');
  assert.deepEqual(ackWindow(w, 1), { retired: 0, keep: [], dropped: 3 }, 'inside the oldest');
  assert.deepEqual(ackWindow([], 5), { retired: 0, keep: [], dropped: 0 });
});

test('outbox: the batch text SQLite builds holds the same records as the row read, cut at the same byte bound, and encodes to the wire schema', () => {
  const t = tempDir(true);
  const l = testLedger(t.file('ledger.db'));
  try {
    l.enqueueEvent('test.vend', { n: 0, s: 'é"\\\u2028\u0000x', big: 'y'.repeat(300) });
    for (let i = 1; i < 60; i++) l.enqueueEvent('test.vend', { n: i, nested: { a: [1, 2.5, null, true] } });
    for (const [maxCount, maxBytes, afterSeq] of [[500, 1 << 20, 0], [10, 1, 0], [10, 100, 5], [20, 400, 0], [50, 1 << 20, 55], [5, 1000, 60]] as const) {
      const rows = l.outbox.nextBatchJson({ maxCount, maxBytes, afterSeq });
      const text = l.outbox.nextBatchText({ maxCount, maxBytes, afterSeq });
      const fromText: unknown[] = text.count > 0 ? (JSON.parse(`[${text.recordsJson}]`) as unknown[]) : [];
      const fromRows = rows.records.map(({ payloadJson, ...r }) => ({ ...r, payload: JSON.parse(payloadJson) as unknown }));
      assert.deepEqual(fromText, fromRows, `${maxCount}/${maxBytes}/${afterSeq}`);
      assert.equal(text.count, rows.records.length);
      assert.equal(text.firstCreatedMs, rows.records[0]?.createdMs ?? 0);
      assert.equal(text.payloadBytes, rows.records.reduce((n, r) => n + Buffer.byteLength(r.payloadJson), 0));
      if (text.count === 0) continue;
      const f = encodeBatchText(text, 1234, afterSeq);
      const b = batchSchema.parse(JSON.parse(f.payload.toString('utf8')));
      assert.deepEqual(b.records, fromRows);
      assert.equal(b.afterSeq, afterSeq);
      assert.equal(b.ackedSeq, 0);
      assert.equal(f.batchId, `${text.fromSeq}-${text.toSeq}`);
    }
  } finally {
    l.close();
    t.cleanup();
  }
});

test('a batch assembled from slice reads (one per turn) is the batch one read gives: same records, bounds and bytes', () => {
  const t = tempDir(true);
  const l = testLedger(t.file('ledger.db'));
  try {
    // 450 records of 30-900 bytes, one far over the smaller byte bounds
    for (let i = 0; i < 450; i++) l.enqueueEvent('test.vend', { n: i, pad: 'x'.repeat(i === 120 ? 5000 : 30 + ((i * 37) % 870)) });
    for (const [maxCount, maxBytes, afterSeq] of [[500, 128 * 1024, 0], [500, 1 << 22, 0], [250, 4096, 0], [150, 20_000, 100], [3, 1 << 20, 0], [500, 1024, 119], [500, 1 << 20, 440], [500, 1 << 20, 450]] as const) {
      const limits = { ...cfg.batch, maxCount, maxBytes };
      const whole = l.outbox.nextBatchText({ maxCount, maxBytes, afterSeq });
      let acc: typeof whole | null = null;
      let reads = 0;
      for (;;) {
        const asked = nextSlice(acc, limits);
        assert.ok(asked.maxCount <= READ_SLICE_RECORDS);
        const step: { batch: typeof whole | null; done: boolean } = addSlice(acc, l.outbox.nextBatchText({ ...asked, afterSeq: acc?.toSeq ?? afterSeq }), asked, limits);
        reads++;
        acc = step.batch;
        if (step.done) break;
      }
      const label = `${maxCount}/${maxBytes}/${afterSeq}`;
      if (whole.count === 0) {
        assert.equal(acc, null, label);
        continue;
      }
      assert.ok(acc !== null, label);
      assert.deepEqual({ count: acc.count, fromSeq: acc.fromSeq, toSeq: acc.toSeq, payloadBytes: acc.payloadBytes, firstCreatedMs: acc.firstCreatedMs, ackedSeq: acc.ackedSeq }, { count: whole.count, fromSeq: whole.fromSeq, toSeq: whole.toSeq, payloadBytes: whole.payloadBytes, firstCreatedMs: whole.firstCreatedMs, ackedSeq: whole.ackedSeq }, label);
      assert.equal(acc.recordsJson, whole.recordsJson, label);
      assert.ok(reads <= Math.ceil(whole.count / READ_SLICE_RECORDS) + 1, `${label}: ${reads} reads`);
    }
  } finally {
    l.close();
    t.cleanup();
  }
});

test('parseBatch, the fast path of the consumer, gives the same verdict and data as batchSchema on generated batches', () => {
  // Mostly valid records (so whole batches pass often), now and then one breaking a rule.
  const often = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>): fc.Arbitrary<T | U> => fc.oneof({ arbitrary: good, weight: 30 }, { arbitrary: bad, weight: 1 });
  const record = fc.record({
    seq: often(fc.integer({ min: 1, max: 50 }), fc.constantFrom(0, -1, 2 ** 53, 1.5)),
    id: often(fc.string({ minLength: 1, maxLength: 64 }), fc.oneof(fc.constant(''), fc.string({ minLength: 65, maxLength: 70 }), fc.integer())),
    type: often(fc.string({ minLength: 1, maxLength: 3 }), fc.constant('')),
    money: often(fc.boolean(), fc.constant(0)),
    createdMs: often(fc.nat(), fc.constant(-1)),
    payload: fc.jsonValue(),
  }, { requiredKeys: ['seq', 'id', 'type', 'money', 'createdMs'] });
  const extra = often(fc.constant(undefined), fc.constantFrom('extra', '__proto__', 'Seq'));
  const outcomes = { pass: 0, fail: 0 };
  const batch = fc.record({ recs: fc.array(fc.tuple(record, extra), { minLength: 0, maxLength: 8 }), sorted: fc.boolean(), fromDelta: often(fc.constant(0), fc.constantFrom(-1, 1)), after: often(fc.constantFrom('before', 'none'), fc.integer({ min: -1, max: 200 })) });
  fc.assert(
    fc.property(batch, ({ recs, sorted, fromDelta, after }) => {
      const records = recs.map(([r, k]) => (k === undefined ? r : JSON.parse(JSON.stringify({ ...r }).replace(/^\{/, `{"${k}":1,`)) as unknown));
      // Usually a well-formed stream: seqs renumbered upwards (a bad seq kept where one was drawn).
      if (sorted) records.forEach((r, i) => {
        const o = r as { seq: unknown };
        if (typeof o.seq === 'number' && Number.isSafeInteger(o.seq) && o.seq > 0) o.seq = 10 + 2 * i;
      });
      const first = records[0] as { seq?: unknown } | undefined;
      const last = records[records.length - 1] as { seq?: unknown } | undefined;
      const fromSeq = Number(first?.seq ?? 1) + fromDelta;
      const afterSeq = after === 'none' ? undefined : after === 'before' ? fromSeq - 1 : after;
      const raw = { v: 1, gatewayId: 'g', batchId: 'b', fromSeq, toSeq: last?.seq ?? 1, afterSeq, ackedSeq: afterSeq === undefined ? undefined : 0, records, auditHead: { seq: 0, hash: '' }, sentAt: 1 };
      const wire = JSON.parse(JSON.stringify(raw)) as unknown;
      const slow = batchSchema.safeParse(wire);
      const fast = parseBatch(wire);
      assert.equal(fast.success, slow.success);
      if (fast.success && slow.success) assert.deepEqual(fast.data, slow.data);
      if (records.length >= 3) outcomes[slow.success ? 'pass' : 'fail']++;
    }),
    { numRuns: 3000 },
  );
  // Both verdicts were exercised on batches large enough for the fast path.
  assert.ok(outcomes.pass > 100 && outcomes.fail > 100, JSON.stringify(outcomes));
});
