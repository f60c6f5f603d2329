// What a worker makes of one uplink message, before any I/O: the topic, the JSON, the payload's
// schema; for a batch, each record's payload against its type's schema (a record that fails is
// still stored, with the reason: money is never dropped because a schema lagged behind).
import { UP_SCHEMAS, describeIssues, parseBatch, type UpPayloads } from '../protocols/mqtt/payloads.js';
import { RECORD_SCHEMAS, checkRecord } from '../protocols/mqtt/records.js';
import { parseTopic } from '../protocols/mqtt/topics.js';
import { PAYLOAD_SEPARATOR, type IngestBatch, type IngestRows } from './store.js';

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
    const n = b.records.length;
    const rows: IngestRows = { seq: new Array<number>(n), id: new Array<string>(n), type: new Array<string>(n), money: new Array<boolean>(n), createdMs: new Array<number>(n), payloads: '', problem: new Array<string | null>(n) };
    const payloads = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const r = b.records[i];
      if (r === undefined) continue;
      const verdict = checkRecord(r.type, r.money, r.payload);
      const problem = verdict.ok ? null : `${verdict.reason}: ${verdict.detail}`.slice(0, 500);
      if (problem !== null) problems++;
      rows.seq[i] = r.seq;
      rows.id[i] = r.id;
      rows.type[i] = r.type;
      rows.money[i] = r.money;
      rows.createdMs[i] = r.createdMs;
      rows.problem[i] = problem;
      payloads[i] = JSON.stringify(r.payload) ?? 'null';
    }
    rows.payloads = payloads.join(PAYLOAD_SEPARATOR);
    return {
      kind: 'batch',
      problems,
      batch: { roomId: t.roomId, gatewayId: b.gatewayId, fromSeq: b.fromSeq, toSeq: b.toSeq, afterSeq: b.afterSeq, ackedSeq: b.ackedSeq, auditHead: b.auditHead, moneyHead: b.moneyHead, rows },
    };
  }
  const parsed = UP_SCHEMAS[t.name].safeParse(raw);
  if (!parsed.success) return { kind: 'invalid', roomId: t.roomId, reason: `${t.name}: ${describeIssues(parsed.error)}` };
  return { kind: 'other', name: t.name, roomId: t.roomId, machineId: t.machineId, payload: parsed.data } as OtherUplink;
}
