// The batch's fast path (protocols/mqtt/batch-parse.ts: batchSchema's rules compiled, the
// order rules shared with its refinement) against batchSchema itself: it only ever accepts what
// zod accepts, with the same data, it accepts the batches gateways send, and it compiled every
// rule of the schema (a rule it cannot compile would leave every batch to zod, silently slower).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { z } from 'zod';
import { acceptBatch, batchFastPathGaps, batchSchema, parseBatch } from '../../protocols/mqtt/payloads.js';
import { compileAccept } from '../../protocols/mqtt/batch-parse.js';
import { readUplink } from '../../cloud/uplinks.js';
import { recordRows } from '../../cloud/rows.js';

const often = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>): fc.Arbitrary<T | U> => fc.oneof({ arbitrary: good, weight: 20 }, { arbitrary: bad, weight: 1 });
const text = (max: number): fc.Arbitrary<unknown> => often(fc.string({ minLength: 1, maxLength: max }), fc.oneof(fc.constant(''), fc.string({ minLength: max + 1, maxLength: max + 4 }), fc.integer(), fc.constant(null)));
const int = (min: number): fc.Arbitrary<unknown> => often(fc.integer({ min, max: 1_000_000 }), fc.constantFrom(min - 1, 1.5, 2 ** 53, '1', null));
const head = often(fc.record({ seq: int(0), hash: often(fc.string({ maxLength: 128 }), fc.oneof(fc.string({ minLength: 129, maxLength: 130 }), fc.constant(1))) }), fc.constantFrom(null, [], { seq: 1 }, { seq: 1, hash: 'h', x: 1 }));
const record = fc.record(
  { seq: int(1), id: text(64), type: text(64), money: often(fc.boolean(), fc.constant(0)), createdMs: int(0), payload: fc.jsonValue({ maxDepth: 2 }) },
  { requiredKeys: ['seq', 'id', 'type', 'money', 'createdMs'] },
);
const envelope = fc.record({
  v: often(fc.constant(1), fc.constantFrom(2, '1')),
  gatewayId: text(64),
  batchId: text(64),
  records: fc.array(record, { minLength: 0, maxLength: 6 }),
  renumber: often(fc.constant(true), fc.constant(false)),
  fromDelta: often(fc.constant(0), fc.constantFrom(-1, 1)),
  toDelta: often(fc.constant(0), fc.constantFrom(-1, 1)),
  after: often(fc.constantFrom('before', 'none', 'zero'), fc.integer({ min: -1, max: 200 })),
  acked: often(fc.constantFrom('none', 'zero', 'after'), fc.integer({ min: -1, max: 200 })),
  auditHead: head,
  moneyHead: fc.option(head, { nil: undefined }),
  sentAt: int(0),
  extra: often(fc.constant(undefined), fc.constantFrom('extra', '__proto__', 'Records')),
});

test('the batch fast path compiled every rule of batchSchema; what it cannot compile it leaves to zod', () => {
  assert.deepEqual(batchFastPathGaps, []);
  const c = compileAccept(z.strictObject({ a: z.string().regex(/^x$/), b: z.number().int().min(2).max(4), c: z.object({ d: z.boolean() }) }));
  assert.deepEqual(c.unsupported, ['a: a string check other than min/max length', 'c: an object that is not strict']);
  assert.equal(c.accept({ a: 'x', b: 3, c: { d: true } }), false, 'a gap accepts nothing');
  const ok = compileAccept(z.strictObject({ b: z.number().int().min(2).max(4), o: z.string().max(2).optional() }));
  assert.deepEqual(ok.unsupported, []);
  assert.deepEqual([{ b: 2 }, { b: 4, o: 'ab' }, { b: 5 }, { b: 1 }, { b: 2.5 }, { b: 3, o: 'abc' }, { b: 3, x: 1 }].map(ok.accept), [true, true, false, false, false, false, false]);
});

test('the batch fast path accepts only what batchSchema accepts, with the same data, and accepts well-formed batches; parseBatch gives zod\'s verdict', () => {
  const seen = { accepted: 0, zodOnly: 0, neither: 0 };
  fc.assert(
    fc.property(envelope, (e) => {
      const records = e.records.map((r, i) => (e.renumber && typeof r.seq === 'number' && Number.isSafeInteger(r.seq) && r.seq > 0 ? { ...r, seq: 10 + 3 * i } : r));
      const first = records[0]?.seq;
      const last = records[records.length - 1]?.seq;
      const fromSeq = (typeof first === 'number' ? first : 1) + e.fromDelta;
      const toSeq = (typeof last === 'number' ? last : 1) + e.toDelta;
      const afterSeq = e.after === 'none' ? undefined : e.after === 'before' ? fromSeq - 1 : e.after === 'zero' ? 0 : e.after;
      const ackedSeq = e.acked === 'none' ? undefined : e.acked === 'zero' ? 0 : e.acked === 'after' ? afterSeq : e.acked;
      const raw = { v: e.v, gatewayId: e.gatewayId, batchId: e.batchId, fromSeq, toSeq, afterSeq, ackedSeq, records, auditHead: e.auditHead, moneyHead: e.moneyHead, sentAt: e.sentAt };
      let json = JSON.stringify(raw);
      if (e.extra !== undefined) json = json.replace(/^\{/, `{"${e.extra}":1,`);
      const wire = JSON.parse(json) as unknown;
      const zod = batchSchema.safeParse(wire);
      const parsed = parseBatch(wire);
      assert.equal(parsed.success, zod.success, json.slice(0, 300));
      if (acceptBatch(wire)) {
        assert.ok(zod.success, `accepted by the fast path, refused by zod: ${json.slice(0, 300)}`);
        assert.deepEqual(parsed.data, zod.data);
        seen.accepted++;
      } else if (zod.success) {
        assert.deepEqual(parsed.data, zod.data);
        seen.zodOnly++;
      } else seen.neither++;
    }),
    { numRuns: 3000, seed: 15 },
  );
  assert.ok(seen.accepted > 300 && seen.neither > 300, `both verdicts drawn often: ${JSON.stringify(seen)}`);
  // zod alone accepts only a record without its payload key (the hand check leaves those to zod).
  assert.ok(seen.zodOnly < seen.accepted / 5, JSON.stringify(seen));
});

test('readUplink: a batch the hand check refuses still gets zod\'s reason; one it accepts keeps every record', () => {
  const good = { v: 1, gatewayId: 'g1', batchId: '1-2', fromSeq: 1, toSeq: 2, afterSeq: 0, ackedSeq: 0, records: [1, 2].map((seq) => ({ seq, id: `id-${seq}`, type: 'vend.capture', money: true, createdMs: 5, payload: { no: 'schema' } })), auditHead: { seq: 0, hash: '' }, sentAt: 1 };
  const u = readUplink('laundry/v1/room-1/up/batch', Buffer.from(JSON.stringify(good)), 'laundry/v1');
  assert.equal(u.kind, 'batch');
  if (u.kind === 'batch') {
    assert.deepEqual(u.batch.rows.seq, [1, 2]);
    assert.equal(u.problems, 2, 'a payload that fails its schema is stored with the reason');
  }
  const bad = readUplink('laundry/v1/room-1/up/batch', Buffer.from(JSON.stringify({ ...good, toSeq: 3 })), 'laundry/v1');
  assert.equal(bad.kind, 'invalid');
  if (bad.kind === 'invalid') assert.match(bad.reason, /fromSeq\/toSeq/);
  const extra = readUplink('laundry/v1/room-1/up/batch', Buffer.from(JSON.stringify({ ...good, extra: 1 })), 'laundry/v1');
  assert.equal(extra.kind, 'invalid');
  if (extra.kind === 'invalid') assert.match(extra.reason, /extra/);
});

test('readUplink: payloads with backslashes, quotes, tabs, newlines and non-ASCII come back from the COPY text as sent', () => {
  const odd = ['c\\d', 'a"b', 'tab\there', 'line\nbreak\r', '\\N', 'é ✓ \u2028', '\u0001\u001e'];
  const records = odd.map((x, i) => ({ seq: i + 1, id: `id ${i}`, type: 'vend.capture', money: true, createdMs: 5, payload: { text: x, list: [x, { x }] } }));
  const wire = { v: 1, gatewayId: 'g\\1', batchId: 'b', fromSeq: 1, toSeq: odd.length, records, auditHead: { seq: 0, hash: '' }, sentAt: 1 };
  const u = readUplink('laundry/v1/room-1/up/batch', Buffer.from(JSON.stringify(wire)), 'laundry/v1');
  assert.equal(u.kind, 'batch');
  if (u.kind !== 'batch') return;
  const back = recordRows(u.batch.rows);
  assert.deepEqual(back.map((r) => JSON.parse(r.payload) as unknown), records.map((r) => r.payload));
  assert.deepEqual(back.map((r) => [r.seq, r.id, r.money]), records.map((r) => [r.seq, r.id, true]));
});
