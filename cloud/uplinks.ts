// What a worker makes of one uplink message, before any I/O: the topic, the JSON, the payload's
// schema; for a batch, each record's payload against its type's schema (a record that fails is
// still stored, with the reason: money is never dropped because a schema lagged behind).
import { UP_SCHEMAS, describeIssues, parseBatch, type UpPayloads } from '../protocols/mqtt/payloads.js';
import { checkRecord } from '../protocols/mqtt/records.js';
import { parseTopic } from '../protocols/mqtt/topics.js';
import type { IngestBatch } from './store.js';

type OtherName = Exclude<keyof UpPayloads, 'batch'>;
/** A non-batch uplink, its payload typed by its topic name. */
export type OtherUplink = { [K in OtherName]: { kind: 'other'; name: K; roomId: string; machineId: string | null; payload: UpPayloads[K] } }[OtherName];

export type Uplink =
  | { kind: 'batch'; batch: IngestBatch; problems: number }
  | OtherUplink
  | { kind: 'invalid'; roomId: string | null; reason: string }
  | { kind: 'ignored' };

export function readUplink(topic: string, payload: Buffer, prefix: string): Uplink {
  const t = parseTopic(topic, prefix);
  if (t === null || t.direction !== 'up') return { kind: 'ignored' };
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    return { kind: 'invalid', roomId: t.roomId, reason: `${t.name}: not JSON` };
  }
  if (t.name === 'batch') {
    const parsed = parseBatch(raw);
    if (!parsed.success) return { kind: 'invalid', roomId: t.roomId, reason: `batch: ${describeIssues(parsed.error)}` };
    const b = parsed.data;
    let problems = 0;
    const records = b.records.map((r) => {
      const verdict = checkRecord(r.type, r.money, r.payload);
      const problem = verdict.ok ? null : `${verdict.reason}: ${verdict.detail}`.slice(0, 500);
      if (problem !== null) problems++;
      return { seq: r.seq, id: r.id, type: r.type, money: r.money, createdMs: r.createdMs, payloadJson: JSON.stringify(r.payload) ?? 'null', problem };
    });
    return {
      kind: 'batch',
      problems,
      batch: { roomId: t.roomId, gatewayId: b.gatewayId, fromSeq: b.fromSeq, toSeq: b.toSeq, afterSeq: b.afterSeq, ackedSeq: b.ackedSeq, records },
    };
  }
  const parsed = UP_SCHEMAS[t.name].safeParse(raw);
  if (!parsed.success) return { kind: 'invalid', roomId: t.roomId, reason: `${t.name}: ${describeIssues(parsed.error)}` };
  return { kind: 'other', name: t.name, roomId: t.roomId, machineId: t.machineId, payload: parsed.data } as OtherUplink;
}
