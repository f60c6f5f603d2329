// The batch side of the uplink without I/O: when a batch is worth sending, how it is encoded,
// how long to wait for the cloud's ack, and what an ack means for the batch in flight. The
// uplink loop feeds it outbox reads and acks; the timeout logic is tested without a broker.
import type { OutboxBatch } from '../../storage/index.js';
import { WIRE_VERSION, type Ack, type Batch } from '../../protocols/mqtt/payloads.js';
import type { MqttConfig } from './config-schema.js';

export interface InFlight {
  batchId: string;
  fromSeq: number;
  toSeq: number;
  count: number;
  attempts: number;
  /** The exact bytes sent: a resend is byte-identical, so the cloud can dedupe either way. */
  payload: Buffer;
}

type BatchLimits = MqttConfig['batch'];

/**
 * Milliseconds to wait before sending this batch (0: send now). A full batch goes at once; a
 * small one waits until its oldest record is maxWaitMs old, so a burst of vends shares a batch.
 * `waitedMs` is how long (monotonic) the uplink has already seen this oldest record: the wait
 * never exceeds maxWaitMs from then, so a wall clock set back (createdMs in the future) cannot
 * hold the batch.
 */
export function waitBeforeSending(ob: OutboxBatch, limits: BatchLimits, nowMs: number, waitedMs = 0): number {
  const first = ob.records[0];
  if (first === undefined) return Infinity;
  if (ob.records.length >= limits.maxCount) return 0;
  let bytes = 0;
  for (const r of ob.records) bytes += JSON.stringify(r.payload).length;
  if (bytes >= limits.maxBytes * 0.75) return 0;
  const byAge = first.createdMs + limits.maxWaitMs - nowMs;
  return Math.max(0, Math.min(byAge, limits.maxWaitMs - waitedMs));
}

export function encodeBatch(ob: OutboxBatch, sentAt: number): InFlight {
  const first = ob.records[0];
  const last = ob.records[ob.records.length - 1];
  if (first === undefined || last === undefined) throw new Error('uplink: cannot encode an empty batch');
  const batch: Batch = {
    v: WIRE_VERSION,
    gatewayId: ob.gatewayId,
    batchId: `${first.seq}-${last.seq}`,
    fromSeq: first.seq,
    toSeq: last.seq,
    records: ob.records.map((r) => ({ seq: r.seq, id: r.id, type: r.type, money: r.money, createdMs: r.createdMs, payload: r.payload })),
    auditHead: { seq: ob.auditHead.seq, hash: ob.auditHead.hash },
    sentAt: Math.floor(sentAt),
  };
  return { batchId: batch.batchId, fromSeq: first.seq, toSeq: last.seq, count: ob.records.length, attempts: 0, payload: Buffer.from(JSON.stringify(batch)) };
}

/** Ack wait for the given attempt (1-based): doubles each time up to the cap, with jitter added. */
export function ackTimeoutMs(attempt: number, limits: BatchLimits, random: () => number): number {
  const base = Math.min(limits.ackTimeoutMaxMs, limits.ackTimeoutMs * Math.pow(2, Math.max(0, Math.min(attempt - 1, 30))));
  return Math.round(base * (1 + 0.2 * random()));
}

export interface AckPlan {
  /** Records to dead-letter, grouped by reason (each group becomes one alert). */
  deadLetters: { reason: string; seqs: number[] }[];
  upToSeq: number;
  /** Rejections naming seqs above upToSeq break the contract and are ignored. */
  ignoredRejections: number;
}

export function planAck(ack: Ack): AckPlan {
  const byReason = new Map<string, number[]>();
  let ignored = 0;
  for (const r of ack.rejected ?? []) {
    if (r.seq > ack.upToSeq) {
      ignored++;
      continue;
    }
    const list = byReason.get(r.reason) ?? [];
    list.push(r.seq);
    byReason.set(r.reason, list);
  }
  return { deadLetters: [...byReason].map(([reason, seqs]) => ({ reason, seqs })), upToSeq: ack.upToSeq, ignoredRejections: ignored };
}

/**
 * Whether an ack, after the ledger applied it (ackedSeq is the ledger's new watermark), ends the
 * batch in flight. An ack for an older batch (a duplicate or one overtaken) leaves it in flight;
 * one covering part of it ends it, and the rest goes out again as the next batch.
 */
export function ackRetires(inFlight: InFlight | null, ackedSeq: number): boolean {
  return inFlight !== null && ackedSeq >= inFlight.fromSeq;
}
