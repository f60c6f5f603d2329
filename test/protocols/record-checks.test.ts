// The hand-written record checks (protocols/mqtt/record-checks.ts) against the zod schemas they
// stand in for (protocols/mqtt/records.ts): the same accept/reject on generated valid records,
// on those records mutated at every depth (extra keys, missing fields, wrong types, values just
// outside their ranges, strings just over their code-point limits), and on real records written
// by the ledger; checkRecord (hand check, zod for the reason) equal to checkRecordWithZod,
// reason text included. Valid records are generated from docs/schemas/record-*.json, the JSON
// Schemas generated from the zod schemas: a third reading of the contract, not ours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { RECORD_CHECKS, recordPayloadValid } from '../../protocols/mqtt/record-checks.js';
import { MONEY_RECORD_TYPES, RECORD_SCHEMAS, checkRecord, checkRecordWithZod } from '../../protocols/mqtt/records.js';
import { RoomActivity, seededRng } from '../fleet/room-activity.js';
import { openTestLedger, tempDir } from '../storage/helpers.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface JsonSchema {
  type?: string | string[];
  anyOf?: JsonSchema[];
  enum?: string[];
  const?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

const TYPES = Object.keys(RECORD_SCHEMAS);
const jsonSchema = (type: string): JsonSchema => JSON.parse(readFileSync(join(import.meta.dirname, '../../docs/schemas', `record-${type}.json`), 'utf8')) as JsonSchema;

/** A string of exactly n code points: ASCII, or astral (two UTF-16 units each), or mixed. */
const ofCodePoints = (n: number): fc.Arbitrary<string> => fc.constantFrom('a'.repeat(n), '😀'.repeat(n), n > 0 ? `${'😀'.repeat(n - 1)}b` : '');

/** Values valid against the subset of JSON Schema the record schemas use, biased to their bounds. */
function arbitraryOf(s: JsonSchema): fc.Arbitrary<Json> {
  if (s.anyOf) return fc.oneof(...s.anyOf.map(arbitraryOf));
  if (Array.isArray(s.type)) return fc.oneof(...s.type.map((type) => arbitraryOf({ ...s, type })));
  if (s.enum) return fc.constantFrom(...s.enum);
  if (s.const !== undefined) return fc.constant(s.const);
  switch (s.type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer': {
      const min = s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : (s.minimum ?? Number.MIN_SAFE_INTEGER);
      const max = s.maximum ?? Number.MAX_SAFE_INTEGER;
      return fc.oneof(fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) }), fc.constantFrom(min, max), fc.maxSafeInteger().filter((x) => x >= min && x <= max));
    }
    case 'string': {
      if (s.pattern !== undefined) return fc.stringMatching(new RegExp(s.pattern));
      const min = s.minLength ?? 0;
      const max = s.maxLength ?? 3000;
      return fc.oneof(fc.string({ unit: 'binary', minLength: min, maxLength: Math.min(max, 80) }), ofCodePoints(min), ofCodePoints(max));
    }
    case 'array':
      return fc.array(s.items ? arbitraryOf(s.items) : fc.jsonValue().map((x) => x as Json), { minLength: s.minItems ?? 0, maxLength: 4 });
    case 'object': {
      if (!s.properties) return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue().map((x) => x as Json), { maxKeys: 4 });
      const props = s.properties;
      const model = Object.fromEntries(Object.entries(props).map(([k, p]) => [k, arbitraryOf(p)]));
      return fc.record(model, { requiredKeys: s.required ?? [] }) as fc.Arbitrary<{ [k: string]: Json }>;
    }
    default:
      // {}: any JSON value (vend.credit_sent's evidence).
      return fc.jsonValue().map((x) => x as Json);
  }
}

/** Values that break a field: wrong types, numbers just outside every range used, strings just over every length used. */
const HOSTILE: Json[] = [
  null, true, false, 0, -1, 1, 1.5, -0.5, 2 ** 53, -(2 ** 53), 2 ** 53 - 1, 1e300, -1e300,
  1_000_000_000_000, 1_000_000_000_001, -1_000_000_000_001, 1_000_000_000, 1_000_000_001,
  '', 'x', '0123456789abcdef', '0123456789ABCDEF', '0123456789abcde', [], [0], [1, 2], {}, { closed: true, locked: false },
  'card', 'account', 'idle', 'start', 'accepted', 'remote', 'active', 'outbox_dead_letter',
  ...[32, 64, 128, 200, 500, 2000].flatMap((n) => ['a'.repeat(n + 1), '😀'.repeat(n), '😀'.repeat(n + 1), '0'.repeat(n + 1)]),
];
const EXTRA_KEYS = ['extra', '__proto__', 'constructor', 'toString', 'Seq', 'audit', 'vendId', ''];

type Mutation = { kind: 'delete' | 'extra' | 'replace'; at: number; pick: number };

/** Every object and array in a value, with the keys (or indexes) of its children: where a mutation can land. */
function containers(v: Json, out: (Json[] | { [k: string]: Json })[] = []): (Json[] | { [k: string]: Json })[] {
  if (v !== null && typeof v === 'object') {
    out.push(v);
    for (const child of Object.values(v)) containers(child, out);
  }
  return out;
}

/** A deep copy with one mutation applied, through JSON text (as a worker receives it). */
function mutate(valid: Json, m: Mutation): unknown {
  const copy = JSON.parse(JSON.stringify(valid)) as Json;
  const boxes = containers(copy);
  const box = boxes[m.at % boxes.length];
  if (box === undefined) return copy;
  const keys = Object.keys(box);
  const key = keys.length > 0 ? keys[m.pick % keys.length] : undefined;
  if (m.kind === 'extra' && !Array.isArray(box)) {
    // defineProperty: an own key even for __proto__, as JSON.parse makes it.
    Object.defineProperty(box, EXTRA_KEYS[m.pick % EXTRA_KEYS.length] ?? 'extra', { value: HOSTILE[m.pick % HOSTILE.length] ?? null, enumerable: true, writable: true, configurable: true });
  } else if (m.kind === 'delete' && key !== undefined) {
    if (Array.isArray(box)) box.splice(Number(key), 1);
    else delete box[key];
  } else if (key !== undefined) {
    const value = HOSTILE[Math.floor(m.pick / 7) % HOSTILE.length] ?? null;
    if (Array.isArray(box)) box[Number(key)] = value;
    else box[key] = value;
  }
  return JSON.parse(JSON.stringify(copy));
}

const mutation: fc.Arbitrary<Mutation> = fc.record({ kind: fc.constantFrom('delete', 'extra', 'replace'), at: fc.nat(), pick: fc.nat() });

function sameVerdict(type: string, payload: unknown, money: boolean): boolean {
  const zodOk = RECORD_SCHEMAS[type as keyof typeof RECORD_SCHEMAS].safeParse(payload).success;
  assert.equal(recordPayloadValid(type, payload), zodOk, `${type}: ${JSON.stringify(payload)?.slice(0, 400)}`);
  assert.deepEqual(checkRecord(type, money, payload), checkRecordWithZod(type, money, payload));
  return zodOk;
}

test('a hand check for every record type, and none for a type the schemas lack', () => {
  assert.deepEqual(Object.keys(RECORD_CHECKS).sort(), [...TYPES].sort());
  assert.equal(recordPayloadValid('vend.future', {}), false);
  assert.equal(recordPayloadValid('__proto__', {}), false);
  assert.equal(recordPayloadValid('toString', {}), false);
});

test('hand check and zod: the same verdict on generated valid records and on each mutated at any depth', () => {
  const outcomes = { valid: 0, validPass: 0, mutated: 0, mutatedPass: 0 };
  for (const type of TYPES) {
    const valid = arbitraryOf(jsonSchema(type));
    const money = MONEY_RECORD_TYPES.includes(type as (typeof MONEY_RECORD_TYPES)[number]);
    fc.assert(
      fc.property(valid, fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), (record, muts, flipMoney) => {
        outcomes.valid++;
        if (sameVerdict(type, JSON.parse(JSON.stringify(record)), money)) outcomes.validPass++;
        let bad: unknown = record;
        for (const m of muts) bad = mutate(bad as Json, m);
        outcomes.mutated++;
        if (sameVerdict(type, bad, flipMoney ? !money : money)) outcomes.mutatedPass++;
      }),
      { numRuns: 150, seed: 20261207 + type.length },
    );
  }
  // Every generated valid record is valid to zod too; the mutations give both verdicts often.
  assert.equal(outcomes.validPass, outcomes.valid, JSON.stringify(outcomes));
  assert.ok(outcomes.mutatedPass > 100 && outcomes.mutated - outcomes.mutatedPass > 1000, JSON.stringify(outcomes));
});

test('hand check and zod: the same verdict on any JSON value as any type', () => {
  fc.assert(
    fc.property(fc.constantFrom(...TYPES, 'vend.future'), fc.jsonValue(), (type, value) => {
      const payload = JSON.parse(JSON.stringify(value) ?? 'null') as unknown;
      const zodOk = Object.hasOwn(RECORD_SCHEMAS, type) && RECORD_SCHEMAS[type as keyof typeof RECORD_SCHEMAS].safeParse(payload).success;
      assert.equal(recordPayloadValid(type, payload), zodOk);
      assert.deepEqual(checkRecord(type, false, payload), checkRecordWithZod(type, false, payload));
    }),
    { numRuns: 2000, seed: 20261207 },
  );
});

test('hand check and zod: the same verdict on real ledger records (a room\'s mix, commands, a dead letter), each then mutated', () => {
  const t = tempDir('record-checks-', true);
  const ledger = openTestLedger(t.file('room.db'));
  try {
    const room = new RoomActivity(ledger, seededRng(15));
    for (let i = 0; i < 400; i++) room.step();
    ledger.recordCommand({ source: 'remote', commandId: 'c-1', kind: 'pause', machineId: 'w1', result: 'accepted', reason: null, money: 'none' });
    ledger.recordCommand({ source: 'operator', kind: 'clear-fault', machineId: 'd1', result: 'refused', reason: 'busy', money: 'none', detail: { note: 'x' } });
    ledger.outbox.deadLetter([1, 2], 'test');
    const corpus = ledger.outbox.nextBatch({ maxCount: 5000, maxBytes: 64 << 20 }).records;
    const types = new Set(corpus.map((r) => r.type));
    assert.ok(types.size >= 11, [...types].join(','));
    fc.assert(
      fc.property(fc.constantFrom(...corpus), mutation, (r, m) => {
        assert.equal(sameVerdict(r.type, r.payload, r.money), true, `a real ${r.type} record passes`);
        sameVerdict(r.type, mutate(r.payload as Json, m), r.money);
      }),
      { numRuns: 3000, seed: 20261207 },
    );
  } finally {
    ledger.close();
    t.cleanup();
  }
});
