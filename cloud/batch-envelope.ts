// The batch envelope's rules by hand, for the worker's hot path: one uplink batch per gateway
// per transaction, and protocols' parseBatch runs zod on each envelope (a fixed cost per message,
// 3.5 % of a worker's CPU in a 1 000-gateway burst, where a batch holds ~40 records). This only
// accepts: anything it does not accept goes to parseBatch, whose verdict and reasons stand
// (test/cloud/batch-envelope.test.ts holds the two to the same verdict on generated envelopes).
// Each record's payload is still checked against its type's schema (uplinks.ts).
import type { Batch } from '../protocols/mqtt/payloads.js';
import { WIRE_VERSION } from '../protocols/mqtt/payloads.js';

const ENVELOPE_KEYS = new Set(['v', 'gatewayId', 'batchId', 'fromSeq', 'toSeq', 'afterSeq', 'ackedSeq', 'records', 'auditHead', 'moneyHead', 'sentAt']);
const RECORD_KEYS = new Set(['seq', 'id', 'type', 'money', 'createdMs', 'payload']);
const HEAD_KEYS = new Set(['seq', 'hash']);

/** The batch when batchSchema surely accepts it as it is (its output is then its input), else null. */
export function acceptBatchEnvelope(raw: unknown): Batch | null {
  if (!isPlainObject(raw) || !onlyKeys(raw, ENVELOPE_KEYS)) return null;
  const { v, gatewayId, batchId, fromSeq, toSeq, afterSeq, ackedSeq, records, auditHead, moneyHead, sentAt } = raw;
  if (v !== WIRE_VERSION || !shortText(gatewayId) || !shortText(batchId)) return null;
  if (!isInt(fromSeq, 1) || !isInt(toSeq, 1) || !isInt(sentAt, 0)) return null;
  if ('afterSeq' in raw && !isInt(afterSeq, 0)) return null;
  if ('ackedSeq' in raw && !isInt(ackedSeq, 0)) return null;
  if (typeof afterSeq === 'number' && afterSeq >= fromSeq) return null;
  if (typeof ackedSeq === 'number' && typeof afterSeq === 'number' && ackedSeq > afterSeq) return null;
  if (!isHead(auditHead) || ('moneyHead' in raw && !isHead(moneyHead))) return null;
  if (!Array.isArray(records) || records.length === 0) return null;
  let prev = 0;
  for (const r of records as unknown[]) {
    if (!isRecord(r) || r.seq <= prev) return null;
    prev = r.seq;
  }
  const first = records[0] as { seq: number };
  if (first.seq !== fromSeq || prev !== toSeq) return null;
  return raw as Batch;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function onlyKeys(o: Record<string, unknown>, allowed: ReadonlySet<string>): boolean {
  for (const k of Object.keys(o)) if (!allowed.has(k)) return false;
  return true;
}

/** z.number().int() with a minimum: a safe integer. */
function isInt(x: unknown, min: number): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= min;
}

function shortText(x: unknown): x is string {
  return typeof x === 'string' && x.length >= 1 && x.length <= 64;
}

function isHead(x: unknown): boolean {
  return isPlainObject(x) && onlyKeys(x, HEAD_KEYS) && isInt(x.seq, 0) && typeof x.hash === 'string' && x.hash.length <= 128;
}

/** batchRecordSchema: every key present (payload any JSON value), nothing else. */
function isRecord(x: unknown): x is { seq: number } {
  if (!isPlainObject(x)) return false;
  let keys = 0;
  for (const k of Object.keys(x)) {
    if (!RECORD_KEYS.has(k)) return false;
    keys++;
  }
  return keys === RECORD_KEYS.size && isInt(x.seq, 1) && shortText(x.id) && shortText(x.type) && typeof x.money === 'boolean' && isInt(x.createdMs, 0);
}
