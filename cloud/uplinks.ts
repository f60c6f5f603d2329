// What a worker makes of one uplink message, before any I/O: the topic, the JSON, the payload's
// schema; for a batch, each record's payload against its type's schema (a record that fails is
// still stored, with the reason: money is never dropped because a schema lagged behind).
import { UP_SCHEMAS, describeIssues, parseBatch, type UpPayloads } from '../protocols/mqtt/payloads.js';
import { RECORD_SCHEMAS, checkRecord } from '../protocols/mqtt/records.js';
import { parseTopic } from '../protocols/mqtt/topics.js';
import { copyLine, escapeCopy, escapeStringified, type IngestBatch } from './rows.js';

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
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    return { kind: 'invalid', roomId: t.roomId, reason: `${t.name}: not JSON` };
  }
  if (t.name === 'batch') {
    // The schema's rules compiled (protocols/mqtt/batch-parse.ts); zod's issues for what they refuse.
    const parsed = parseBatch(raw);
    if (!parsed.success) return { kind: 'invalid', roomId: t.roomId, reason: `batch: ${describeIssues(parsed.error)}` };
    const b = parsed.data;
    // Each record's COPY line straight away (rows.ts): the payload re-serialized once, as stored.
    let problems = 0;
    const gw = escapeCopy(b.gatewayId);
    const seqs = new Array<number>(b.records.length);
    let text = '';
    for (let i = 0; i < b.records.length; i++) {
      const r = b.records[i];
      if (r === undefined) continue;
      const verdict = checkRecord(r.type, r.money, r.payload);
      const problem = verdict.ok ? null : `${verdict.reason}: ${verdict.detail}`.slice(0, 500);
      if (problem !== null) problems++;
      seqs[i] = r.seq;
      text += copyLine(gw, { seq: r.seq, id: r.id, type: r.type, money: r.money, createdMs: r.createdMs, problem }, escapeStringified(JSON.stringify(r.payload) ?? 'null'));
    }
    return {
      kind: 'batch',
      problems,
      batch: { roomId: t.roomId, gatewayId: b.gatewayId, fromSeq: b.fromSeq, toSeq: b.toSeq, afterSeq: b.afterSeq, ackedSeq: b.ackedSeq, auditHead: b.auditHead, moneyHead: b.moneyHead, rows: { seq: seqs, copy: Buffer.from(text, 'utf8') } },
    };
  }
  const parsed = UP_SCHEMAS[t.name].safeParse(raw);
  if (!parsed.success) return { kind: 'invalid', roomId: t.roomId, reason: `${t.name}: ${describeIssues(parsed.error)}` };
  return { kind: 'other', name: t.name, roomId: t.roomId, machineId: t.machineId, payload: parsed.data } as OtherUplink;
}
