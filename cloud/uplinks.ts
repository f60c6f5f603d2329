// What a worker makes of one uplink message, before any I/O: the topic, the JSON, the payload's
// schema; for a batch, each record's payload against its type's schema (a record that fails is
// still stored, with the reason: money is never dropped because a schema lagged behind).
import { UP_SCHEMAS, describeIssues, parseBatch, type UpPayloads } from '../protocols/mqtt/payloads.js';
import { RECORD_SCHEMAS, checkRecord } from '../protocols/mqtt/records.js';
import { parseTopic } from '../protocols/mqtt/topics.js';
import { copyLine, escapeCopy, escapeStringified, type IngestBatch } from './rows.js';
import { isStorableText, jsonDeeperThan, MAX_JSON_DEPTH, storableJson, storableText } from './pg-text.js';

type OtherName = Exclude<keyof UpPayloads, 'batch'>;
/** A non-batch uplink, its payload typed by its topic name. */
export type OtherUplink = { [K in OtherName]: { kind: 'other'; name: K; roomId: string; machineId: string | null; payload: UpPayloads[K] } }[OtherName];

export type Uplink =
  | { kind: 'batch'; batch: IngestBatch; problems: number }
  | OtherUplink
  | { kind: 'invalid'; roomId: string | null; reason: string }
  | { kind: 'ignored' };

/**
 * Runs every record type's schema once. zod generates an object schema's fast path on its first
 * parse (seen: 68 ms of one worker's first 3-second burst): at start, not inside the first burst.
 */
export function warmRecordChecks(): void {
  for (const type of Object.keys(RECORD_SCHEMAS)) checkRecord(type, false, {});
}

/**
 * parseTopic's verdicts by topic: a fleet's uplink topics are a few per gateway, each parsed
 * (with zod on its room segment) once instead of on every message. Only topics that parse are
 * kept, and the map is cleared when it grows past TOPIC_CACHE_MAX (a flood of made-up room ids
 * costs memory up to there, then parsing as before).
 */
const topicCache = new Map<string, NonNullable<ReturnType<typeof parseTopic>>>();
let topicCachePrefix = '';
const TOPIC_CACHE_MAX = 100_000;

function cachedTopic(topic: string, prefix: string): ReturnType<typeof parseTopic> {
  if (prefix !== topicCachePrefix) {
    topicCache.clear();
    topicCachePrefix = prefix;
  }
  const hit = topicCache.get(topic);
  if (hit !== undefined) return hit;
  const t = parseTopic(topic, prefix);
  // Only topics that parse: their room segment is bounded by its schema, while a refused topic
  // may be any length a broker lets through, and would be kept for nothing.
  if (t === null) return t;
  if (topicCache.size >= TOPIC_CACHE_MAX) topicCache.clear();
  topicCache.set(topic, t);
  return t;
}

export function readUplink(topic: string, payload: Buffer, prefix: string): Uplink {
  const t = cachedTopic(topic, prefix);
  if (t === null || t.direction !== 'up') return { kind: 'ignored' };
  let raw: unknown;
  const json = payload.toString('utf8');
  try {
    raw = JSON.parse(json);
  } catch {
    return { kind: 'invalid', roomId: t.roomId, reason: `${t.name}: not JSON` };
  }
  if (t.name === 'batch') {
    // The schema's rules compiled (protocols/mqtt/batch-parse.ts); zod's issues for what they refuse.
    const parsed = parseBatch(raw);
    if (!parsed.success) return { kind: 'invalid', roomId: t.roomId, reason: `batch: ${describeIssues(parsed.error)}` };
    const b = parsed.data;
    // The stream's name and anchors must be stored as sent (pg-text.ts): refused, not changed.
    const unstorable = !isStorableText(b.gatewayId) ? 'gatewayId' : !isStorableText(b.auditHead.hash) ? 'auditHead.hash' : b.moneyHead !== undefined && !isStorableText(b.moneyHead.hash) ? 'moneyHead.hash' : null;
    if (unstorable !== null) return { kind: 'invalid', roomId: t.roomId, reason: `batch: ${unstorable}: ${UNSTORABLE_REASON}` };
    // Each record's COPY line straight away (rows.ts): the payload re-serialized once, as stored.
    let problems = 0;
    const gw = escapeCopy(b.gatewayId);
    const seqs = new Array<number>(b.records.length);
    let text = '';
    for (let i = 0; i < b.records.length; i++) {
      const r = b.records[i];
      if (r === undefined) continue;
      // A payload nested deeper than the store takes refuses the batch (unacked: the gateway keeps it).
      const payloadJson = stringifyBounded(r.payload);
      if (payloadJson === null) return { kind: 'invalid', roomId: t.roomId, reason: `batch: records[${i}].payload: ${TOO_DEEP_REASON}` };
      const verdict = checkRecord(r.type, r.money, r.payload);
      // The reason may quote the type (an unknown one): storable too.
      const schemaProblem = verdict.ok ? null : storableText(`${verdict.reason}: ${verdict.detail}`);
      const stored = storableRecord(r.id, r.type, r.payload, payloadJson);
      const problem = schemaProblem === null && stored.problem === null ? null : [schemaProblem, stored.problem].filter((x) => x !== null).join('; ').slice(0, 500);
      if (problem !== null) problems++;
      seqs[i] = r.seq;
      text += copyLine(gw, { seq: r.seq, id: stored.id, type: stored.type, money: r.money, createdMs: r.createdMs, problem }, escapeStringified(stored.payload));
    }
    return {
      kind: 'batch',
      problems,
      batch: { roomId: t.roomId, gatewayId: b.gatewayId, fromSeq: b.fromSeq, toSeq: b.toSeq, afterSeq: b.afterSeq, ackedSeq: b.ackedSeq, auditHead: b.auditHead, moneyHead: b.moneyHead, rows: { seq: seqs, copy: Buffer.from(text, 'utf8') } },
    };
  }
  // Telemetry is no money: a message the store cannot keep is refused, not stored changed (nor
  // left to fail the group of telemetry it would be written with).
  if (jsonDeeperThan(json)) return { kind: 'invalid', roomId: t.roomId, reason: `${t.name}: ${TOO_DEEP_REASON}` };
  const parsed = UP_SCHEMAS[t.name].safeParse(raw);
  if (!parsed.success) return { kind: 'invalid', roomId: t.roomId, reason: `${t.name}: ${describeIssues(parsed.error)}` };
  if (ESCAPED_UNSTORABLE.test(json) && storableJson(parsed.data, JSON.stringify(parsed.data)).changed) return { kind: 'invalid', roomId: t.roomId, reason: `${t.name}: ${UNSTORABLE_REASON}` };
  return { kind: 'other', name: t.name, roomId: t.roomId, machineId: t.machineId, payload: parsed.data } as OtherUplink;
}

const TOO_DEEP_REASON = `nested deeper than ${MAX_JSON_DEPTH} levels, which the store does not take`;

/** JSON.stringify of a payload, or null when it nests deeper than MAX_JSON_DEPTH (stringify itself throws far past it). */
function stringifyBounded(payload: unknown): string | null {
  let json: string;
  try {
    json = JSON.stringify(payload) ?? 'null';
  } catch (e) {
    if (e instanceof RangeError) return null;
    throw e;
  }
  return jsonDeeperThan(json) ? null : json;
}

const UNSTORABLE_REASON = 'holds U+0000 or a lone surrogate, which PostgreSQL cannot store';
/** In a message's JSON text, U+0000 and surrogates can only come as escapes (any case). */
const ESCAPED_UNSTORABLE = /\\u(0000|d[89a-f])/i;

/**
 * A record's id, type and payload JSON as PostgreSQL can store them (pg-text.ts): U+0000 and lone
 * surrogates as U+FFFD, and the problem saying where; the record is stored all the same.
 */
function storableRecord(id: string, type: string, payload: unknown, json: string): { id: string; type: string; payload: string; problem: string | null } {
  const p = storableJson(payload, json);
  const sid = storableText(id);
  const stype = storableText(type);
  if (!p.changed && sid === id && stype === type) return { id, type, payload: json, problem: null };
  const where = [sid !== id ? 'id' : null, stype !== type ? 'type' : null, p.changed ? 'payload' : null].filter((x) => x !== null).join(', ');
  return { id: sid, type: stype, payload: p.json, problem: `${where} ${UNSTORABLE_REASON}: stored with U+FFFD in their place` };
}
