// The batch fast path (protocols/mqtt/batch-parse.ts) against zod, from an outsider's side:
// well-formed batches mutated at any depth (unknown keys, __proto__ and constructor keys, keys
// removed, wrong types, NaN/Infinity/-0, huge and fractional numbers, out-of-range and nudged
// values, empty and very long strings, arrays where objects belong and objects where arrays
// belong, extra array elements, holes, duplicate keys in the JSON text). Whatever the fast path
// accepts, zod accepts with deep-equal data; parseBatch gives zod's verdict and issues; and the
// worker's own entry (cloud/uplinks.ts readUplink, fed the JSON text as it comes off the broker)
// refuses with zod's reason and keeps every record zod keeps. Seeded and bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { acceptBatch, batchSchema, describeIssues, parseBatch } from '../../protocols/mqtt/payloads.js';
import { readUplink } from '../../cloud/uplinks.js';
import { recordRows } from '../../cloud/rows.js';
import { isStorableText, storableJson, storableText } from '../../cloud/pg-text.js';

type Node = unknown;
type Path = (string | number)[];

/** A valid batch: 1-6 records with increasing seqs, the optional keys present or not, payloads any JSON. */
const validBatch = fc
  .record({
    start: fc.integer({ min: 1, max: 2 ** 40 }),
    steps: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 6 }),
    gatewayId: fc.string({ minLength: 1, maxLength: 64, unit: 'binary' }),
    batchId: fc.string({ minLength: 1, maxLength: 64 }),
    ids: fc.array(fc.string({ minLength: 1, maxLength: 64, unit: 'grapheme' }), { minLength: 6, maxLength: 6 }),
    types: fc.array(fc.constantFrom('vend.hold', 'vend.capture', 'machine_state', 'x'.repeat(64)), { minLength: 6, maxLength: 6 }),
    money: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
    createdMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    payloads: fc.array(fc.jsonValue({ maxDepth: 3 }), { minLength: 6, maxLength: 6 }),
    after: fc.constantFrom('none', 'before', 'zero'),
    acked: fc.constantFrom('none', 'zero', 'after'),
    auditHash: fc.string({ maxLength: 128 }),
    money_: fc.option(fc.record({ seq: fc.nat(), hash: fc.string({ maxLength: 128 }) }), { nil: undefined }),
    sentAt: fc.nat(),
  })
  .map((b) => {
    let seq = b.start;
    const records = b.steps.map((step, i) => {
      seq += i === 0 ? 0 : step;
      return { seq, id: b.ids[i] ?? 'id', type: b.types[i] ?? 't', money: b.money[i] ?? false, createdMs: b.createdMs, payload: b.payloads[i] ?? null };
    });
    const fromSeq = records[0]?.seq ?? 1;
    const toSeq = records[records.length - 1]?.seq ?? 1;
    const afterSeq = b.after === 'none' ? undefined : b.after === 'zero' ? 0 : fromSeq - 1;
    const ackedSeq = b.acked === 'none' ? undefined : b.acked === 'after' ? afterSeq : 0;
    const out: Record<string, unknown> = { v: 1, gatewayId: b.gatewayId, batchId: b.batchId, fromSeq, toSeq };
    if (afterSeq !== undefined) out.afterSeq = afterSeq;
    if (ackedSeq !== undefined && afterSeq !== undefined) out.ackedSeq = ackedSeq;
    out.records = records;
    out.auditHead = { seq: b.start - 1, hash: b.auditHash };
    if (b.money_ !== undefined) out.moneyHead = b.money_;
    out.sentAt = b.sentAt;
    return out;
  });

const long = (n: number): string => 'x'.repeat(n);
/** Values that sit at or just past a rule of the schema, or are the wrong kind altogether. */
const oddValue = fc.constantFrom<unknown>(
  NaN, Infinity, -Infinity, -0, 0, 1, -1, 0.5, 1.5, 1e-7, 1e21, 2 ** 53, 2 ** 53 - 1, 2 ** 53 + 2, -(2 ** 53 - 1), Number.MAX_VALUE, Number.MIN_VALUE,
  '', '1', ' ', long(64), long(65), long(128), long(129), long(70_000), '\u0000', '\ud800', 'é✓',
  true, false, null, [], {}, [1], { seq: 1 }, undefined,
);
const oddKey = fc.constantFrom('extra', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'Seq', 'seq ', '', 'records\u0000', '0');

type Mutation =
  | { kind: 'set'; at: number; key: number; value: unknown }
  | { kind: 'nudge'; at: number; key: number; by: number }
  | { kind: 'delete'; at: number; key: number }
  | { kind: 'add'; at: number; key: string; value: unknown }
  | { kind: 'to-array'; at: number; key: number }
  | { kind: 'to-object'; at: number; key: number }
  | { kind: 'push'; at: number; value: unknown; copy: boolean }
  | { kind: 'hole'; at: number; key: number }
  | { kind: 'dup'; at: number; key: number; value: unknown; first: boolean };

const at = fc.nat();
const key = fc.nat();
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at, key, value: oddValue }),
  fc.record({ kind: fc.constant('nudge' as const), at, key, by: fc.constantFrom(1, -1, 0.5, -0.5, 2 ** 53, -2) }),
  fc.record({ kind: fc.constant('delete' as const), at, key }),
  fc.record({ kind: fc.constant('add' as const), at, key: oddKey, value: oddValue }),
  fc.record({ kind: fc.constant('to-array' as const), at, key }),
  fc.record({ kind: fc.constant('to-object' as const), at, key }),
  fc.record({ kind: fc.constant('push' as const), at, value: oddValue, copy: fc.boolean() }),
  fc.record({ kind: fc.constant('hole' as const), at, key }),
  fc.record({ kind: fc.constant('dup' as const), at, key, value: oddValue, first: fc.boolean() }),
);

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** An own, enumerable data property, even for `__proto__` (plain assignment would set the prototype). */
function put(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function clone(x: Node): Node {
  if (Array.isArray(x)) {
    const a: unknown[] = new Array<unknown>(x.length);
    for (let i = 0; i < x.length; i++) if (i in x) a[i] = clone(x[i]);
    return a;
  }
  if (isObj(x)) {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(x)) put(o, k, clone(x[k]));
    return o;
  }
  return x;
}

/** Every object and array of the tree, outermost first. */
function containers(x: Node, path: Path = [], out: { node: Record<string, unknown> | unknown[]; path: Path }[] = []): typeof out {
  if (Array.isArray(x)) {
    out.push({ node: x, path });
    x.forEach((v, i) => containers(v, [...path, i], out));
  } else if (isObj(x)) {
    out.push({ node: x, path });
    for (const k of Object.keys(x)) containers(x[k], [...path, k], out);
  }
  return out;
}

/** Duplicate keys to write into the JSON text: object → the key, the value and where it goes. */
type Dups = WeakMap<object, { key: string; value: unknown; first: boolean }>;

function mutate(root: Record<string, unknown>, ms: readonly Mutation[], dups: Dups): void {
  for (const m of ms) {
    // Four mutations in five land outside the payloads (z.unknown: anything goes there), where the rules are.
    const every = containers(root);
    const rules = every.filter((c) => !c.path.includes('payload'));
    const all = m.at % 5 === 0 ? every : rules;
    const c = all[Math.floor(m.at / 5) % all.length];
    if (c === undefined) continue;
    const n = c.node;
    const keys = Array.isArray(n) ? n.map((_, i) => i) : Object.keys(n);
    const k = keys.length === 0 ? undefined : keys[('key' in m && typeof m.key === 'number' ? m.key : 0) % keys.length];
    const get = (kk: string | number): unknown => (n as Record<string | number, unknown>)[kk];
    const set = (kk: string | number, v: unknown): void => {
      if (Array.isArray(n)) n[Number(kk)] = v;
      else put(n, String(kk), v);
    };
    switch (m.kind) {
      case 'set':
        if (k !== undefined) set(k, m.value);
        break;
      case 'nudge': {
        const v = k === undefined ? undefined : get(k);
        if (k !== undefined && typeof v === 'number') set(k, v + m.by);
        break;
      }
      case 'delete':
        if (k !== undefined) {
          if (Array.isArray(n)) n.splice(Number(k), 1);
          else delete n[String(k)];
        }
        break;
      case 'add':
        if (!Array.isArray(n)) put(n, m.key, m.value);
        break;
      case 'to-array':
        if (k !== undefined) {
          const v = get(k);
          if (isObj(v)) set(k, Object.values(v));
        }
        break;
      case 'to-object':
        if (k !== undefined) {
          const v = get(k);
          if (Array.isArray(v)) set(k, { ...v });
        }
        break;
      case 'push':
        if (Array.isArray(n)) n.push(m.copy && n.length > 0 ? clone(n[n.length - 1]) : m.value);
        break;
      case 'hole':
        if (Array.isArray(n) && k !== undefined) delete n[Number(k)];
        break;
      case 'dup':
        if (!Array.isArray(n) && k !== undefined) dups.set(n, { key: String(k), value: m.value, first: m.first });
        break;
    }
  }
}

/** JSON text of the tree with the duplicate keys written in (JSON.parse keeps the last of each). */
function toJson(x: unknown, dups: Dups): string {
  if (Array.isArray(x)) return `[${Array.from(x, (v) => toJson(v === undefined ? null : v, dups)).join(',')}]`;
  if (isObj(x)) {
    const parts = Object.keys(x)
      .filter((k) => x[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${toJson(x[k], dups)}`);
    const d = dups.get(x);
    if (d !== undefined && d.value !== undefined) {
      const extra = `${JSON.stringify(d.key)}:${toJson(d.value, dups)}`;
      if (d.first) parts.unshift(extra);
      else parts.push(extra);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(x) ?? 'null';
}

const TOPIC = 'laundry/v1/room-1/up/batch';

function checkSame(value: unknown, label: string): { fast: boolean; zod: boolean } {
  const zod = batchSchema.safeParse(value);
  const fast = acceptBatch(value);
  if (fast) {
    assert.ok(zod.success, `${label}: the fast path accepted what zod refuses (${zod.success ? '' : describeIssues(zod.error)})`);
  }
  const parsed = parseBatch(value);
  assert.equal(parsed.success, zod.success, `${label}: parseBatch's verdict is zod's`);
  if (parsed.success && zod.success) assert.deepEqual(parsed.data, zod.data, `${label}: the same data`);
  if (!parsed.success && !zod.success) assert.deepEqual(parsed.error.issues, zod.error.issues, `${label}: zod's issues`);
  return { fast, zod: zod.success };
}

test('batch fast path against zod on mutated batches, as JS values and as JSON text through the worker\'s readUplink', () => {
  const seen = { fast: 0, zodOnly: 0, refused: 0, wireFast: 0, wireRefused: 0 };
  fc.assert(
    fc.property(validBatch, fc.array(mutation, { minLength: 0, maxLength: 3 }), (valid, ms) => {
      const value = clone(valid) as Record<string, unknown>;
      const dups: Dups = new WeakMap();
      mutate(value, ms, dups);
      const v = checkSame(value, 'value');
      if (v.fast) seen.fast++;
      else if (v.zod) seen.zodOnly++;
      else seen.refused++;

      const text = toJson(value, dups);
      const wire = JSON.parse(text) as unknown;
      const w = checkSame(wire, `wire ${text.slice(0, 200)}`);
      if (w.fast) seen.wireFast++;
      if (!w.zod) seen.wireRefused++;
      const zod = batchSchema.safeParse(wire);
      const u = readUplink(TOPIC, Buffer.from(text, 'utf8'), 'laundry/v1');
      if (!zod.success) {
        assert.equal(u.kind, 'invalid');
        if (u.kind === 'invalid') assert.equal(u.reason, `batch: ${describeIssues(zod.error)}`);
        return;
      }
      const b = zod.data;
      // A stream's name or anchor PostgreSQL cannot hold is refused after zod (cloud/pg-text.ts).
      if (![b.gatewayId, b.auditHead.hash, b.moneyHead?.hash ?? ''].every(isStorableText)) {
        assert.ok(u.kind === 'invalid' && /cannot store/.test(u.reason), text.slice(0, 200));
        return;
      }
      assert.equal(u.kind, 'batch', text.slice(0, 200));
      if (u.kind !== 'batch') return;
      assert.deepEqual([u.batch.gatewayId, u.batch.fromSeq, u.batch.toSeq, u.batch.afterSeq, u.batch.ackedSeq], [b.gatewayId, b.fromSeq, b.toSeq, b.afterSeq, b.ackedSeq]);
      assert.deepEqual(u.batch.auditHead, b.auditHead);
      assert.deepEqual(u.batch.moneyHead, b.moneyHead);
      assert.deepEqual(u.batch.rows.seq, b.records.map((r) => r.seq));
      // As PostgreSQL can hold them: U+0000 and lone surrogates as U+FFFD (cloud/pg-text.ts), the payload as JSON text.
      assert.deepEqual(
        recordRows(u.batch.rows).map((r) => [r.seq, r.id, r.type, r.money, r.createdMs, r.payload]),
        b.records.map((r) => [r.seq, storableText(r.id), storableText(r.type), r.money, r.createdMs, storableJson(r.payload, JSON.stringify(r.payload) ?? 'null').json]),
      );
    }),
    { numRuns: 2000, seed: 7 },
  );
  // Both verdicts drawn often enough to mean something, through both entries.
  assert.ok(seen.fast > 200 && seen.refused > 500 && seen.wireFast > 200 && seen.wireRefused > 500, JSON.stringify(seen));
});

test('an array with a hole is refused by the fast path as zod refuses it (JSON cannot make one; parseBatch takes any value)', () => {
  const rec = (seq: number): Record<string, unknown> => ({ seq, id: `id-${seq}`, type: 't', money: false, createdMs: 1, payload: {} });
  const records = [rec(1), rec(2), rec(3)];
  delete records[1];
  const b = { v: 1, gatewayId: 'g', batchId: '1-3', fromSeq: 1, toSeq: 3, records, auditHead: { seq: 0, hash: '' }, sentAt: 1 };
  assert.equal(batchSchema.safeParse(b).success, false);
  assert.equal(acceptBatch(b), false);
  assert.equal(parseBatch(b).success, false);
});
