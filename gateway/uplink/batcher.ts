// The batch side of the uplink without I/O: when a batch is worth sending, how it is encoded,
// how long to wait for the cloud's ack, and what an ack does to the window of batches in
// flight. The uplink loop feeds it outbox reads and acks; this logic is tested without a broker.
import type { AuditHead, OutboxBatch, OutboxBatchJson, OutboxBatchText } from '../../storage/index.js';
import { WIRE_VERSION, type Ack } from '../../protocols/mqtt/payloads.js';
import type { MqttConfig } from './config-schema.js';

export interface InFlight {
  batchId: string;
  fromSeq: number;
  toSeq: number;
  count: number;
  /** The seq this batch continues the stream after (see the batch's afterSeq). */
  afterSeq: number;
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
export function waitBeforeSending(ob: BatchShape | { records: ReadonlyArray<SizedRecord> }, limits: BatchLimits, nowMs: number, waitedMs = 0): number {
  const b = 'records' in ob ? shapeOf(ob) : ob;
  if (b.count === 0) return Infinity;
  if (b.count >= limits.maxCount) return 0;
  if (b.payloadBytes >= limits.maxBytes * 0.75) return 0;
  const byAge = b.firstCreatedMs + limits.maxWaitMs - nowMs;
  return Math.max(0, Math.min(byAge, limits.maxWaitMs - waitedMs));
}

/** What the batching wait looks at. */
export interface BatchShape {
  count: number;
  payloadBytes: number;
  firstCreatedMs: number;
}

type Optional<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;
/** A batch without a money head (a ledger before the money chain, hand-built tests) is sent without one. */
type BatchTextInput = Optional<OutboxBatchText, 'moneyHead'>;

type SizedRecord = { createdMs: number } & ({ payload: unknown } | { payloadJson: string });

export function shapeOf(ob: { records: ReadonlyArray<SizedRecord> }): BatchShape {
  let payloadBytes = 0;
  for (const r of ob.records) payloadBytes += Buffer.byteLength('payloadJson' in r ? r.payloadJson : (JSON.stringify(r.payload) ?? ''));
  return { count: ob.records.length, payloadBytes, firstCreatedMs: ob.records[0]?.createdMs ?? 0 };
}

/**
 * The batch as wire JSON (batchSchema), built as text around the records' JSON as the ledger
 * serialized them (OutboxBatchText: each record is the wire's batch record): a backlog is not
 * parsed and serialized again on its way out. `after` is the seq the batch continues the
 * stream after (default: the watermark the batch was read at).
 */
export function encodeBatchText(ob: BatchTextInput, sentAt: number, after = ob.ackedSeq): InFlight {
  if (ob.count === 0) throw new Error('uplink: cannot encode an empty batch');
  const afterSeq = Math.max(after, ob.ackedSeq);
  if (afterSeq >= ob.fromSeq) throw new Error('uplink: a batch must start above the seq it follows');
  const batchId = `${ob.fromSeq}-${ob.toSeq}`;
  const s = JSON.stringify;
  const text =
    `{"v":${WIRE_VERSION},"gatewayId":${s(ob.gatewayId)},"batchId":"${batchId}","fromSeq":${ob.fromSeq},"toSeq":${ob.toSeq},` +
    `"afterSeq":${afterSeq},"ackedSeq":${ob.ackedSeq},"records":[${ob.recordsJson}],` +
    `"auditHead":{"seq":${ob.auditHead.seq},"hash":${s(ob.auditHead.hash)}},` +
    (ob.moneyHead === undefined ? '' : `"moneyHead":{"seq":${ob.moneyHead.seq},"hash":${s(ob.moneyHead.hash)}},`) +
    `"sentAt":${Math.floor(sentAt)}}`;
  return { batchId, fromSeq: ob.fromSeq, toSeq: ob.toSeq, count: ob.count, afterSeq, attempts: 0, payload: Buffer.from(text) };
}

/**
 * Records read from the outbox in one turn of the event loop. A batch (up to maxCount, 500 by
 * default) is assembled from reads of this many, one per turn, so that a swipe arriving during a
 * drain waits behind one small read (~1 ms of SQLite here) instead of a whole batch's (5-20 ms
 * under load: test/bench/drain-vend.ts). The cloud still gets batches of maxCount.
 */
export const READ_SLICE_RECORDS = 100;

/** What the next slice read asks for, given the batch assembled so far. */
export function nextSlice(acc: BatchShape | null, limits: BatchLimits): { maxCount: number; maxBytes: number } {
  return { maxCount: Math.max(1, Math.min(READ_SLICE_RECORDS, limits.maxCount - (acc?.count ?? 0))), maxBytes: Math.max(1, limits.maxBytes - (acc?.payloadBytes ?? 0)) };
}

/**
 * Adds a slice (read with nextSlice's bounds, above acc's toSeq) to the batch being assembled.
 * Done when the slice came back short (the outbox is read to its end, or the next record would
 * not fit), or the batch is full. A slice whose one record is over the bytes left (the outbox
 * read always returns its first record) is left for the next batch. Heads are the newest read;
 * the watermark the batch was first read at is kept (an ack in between never reaches the batch:
 * it is above everything sent).
 */
export function addSlice<B extends BatchTextInput>(acc: B | null, slice: B, asked: { maxCount: number; maxBytes: number }, limits: BatchLimits): { batch: B | null; done: boolean } {
  if (slice.count === 0) return { batch: acc, done: true };
  if (acc !== null && slice.payloadBytes > asked.maxBytes) return { batch: acc, done: true };
  const batch: B =
    acc === null
      ? slice
      : {
          ...slice,
          fromSeq: acc.fromSeq,
          count: acc.count + slice.count,
          firstCreatedMs: acc.firstCreatedMs,
          payloadBytes: acc.payloadBytes + slice.payloadBytes,
          recordsJson: `${acc.recordsJson},${slice.recordsJson}`,
          ackedSeq: acc.ackedSeq,
        };
  const done = slice.count < asked.maxCount || batch.count >= limits.maxCount || batch.payloadBytes >= limits.maxBytes;
  return { batch, done };
}

/** encodeBatchText for a batch read with its records as objects (payloads as stored JSON text). */
export function encodeBatchJson(ob: Optional<OutboxBatchJson, 'moneyHead'>, sentAt: number, after = ob.ackedSeq): InFlight {
  const s = JSON.stringify;
  const first = ob.records[0];
  const last = ob.records[ob.records.length - 1];
  return encodeBatchText(
    {
      gatewayId: ob.gatewayId,
      auditHead: ob.auditHead,
      ...(ob.moneyHead === undefined ? {} : { moneyHead: ob.moneyHead }),
      ackedSeq: ob.ackedSeq,
      ...shapeOf(ob),
      fromSeq: first?.seq ?? 0,
      toSeq: last?.seq ?? 0,
      recordsJson: ob.records.map((r) => `{"seq":${r.seq},"id":${s(r.id)},"type":${s(r.type)},"money":${r.money},"createdMs":${r.createdMs},"payload":${r.payloadJson}}`).join(','),
    },
    sentAt,
    after,
  );
}

/** encodeBatchJson for a batch whose payloads are parsed values. */
export function encodeBatch(ob: OutboxBatch, sentAt: number, ackedSeq = 0): InFlight {
  return encodeBatchJson(
    { gatewayId: ob.gatewayId, auditHead: ob.auditHead, ...(ob.moneyHead === undefined ? {} : { moneyHead: ob.moneyHead }), ackedSeq, records: ob.records.map(({ payload, ...r }) => ({ ...r, payloadJson: JSON.stringify(payload) ?? 'null' })) },
    sentAt,
  );
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

export interface WindowAfterAck {
  /** Batches the watermark covers whole. */
  retired: number;
  /** The batches still in flight, oldest first. */
  keep: InFlight[];
  /**
   * The watermark fell inside a batch (the cloud acked part of it): the rest of the window is
   * dropped and read again from the ledger, so the next batch starts right above the watermark.
   */
  dropped: number;
}

/**
 * What the ledger's new watermark (after an ack) does to the window of batches in flight. An ack
 * at or below the oldest batch's start changes nothing (a duplicate or one overtaken); one at a
 * batch boundary retires the batches below it; one inside a batch retires what it covers and
 * drops the rest of the window (those records are read, encoded and sent again).
 */
export function ackWindow(window: readonly InFlight[], ackedSeq: number): WindowAfterAck {
  let i = 0;
  while (i < window.length && (window[i]?.toSeq ?? Infinity) <= ackedSeq) i++;
  const rest = window.slice(i);
  const head = rest[0];
  if (head !== undefined && head.fromSeq <= ackedSeq) return { retired: i, keep: [], dropped: rest.length };
  return { retired: i, keep: rest, dropped: 0 };
}

/** Of two chain heads the cloud acknowledged, the one further along: a late older ack moves no anchor back. */
export function newer(a: AuditHead | undefined, b: AuditHead | undefined): AuditHead | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.seq > a.seq ? b : a;
}
