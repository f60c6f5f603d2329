// The uplink's sender: the outbox upstream in seq order, in a window of up to batch.window
// batches in flight (each chained to the one before by afterSeq), retired only by the cloud's
// application-level ack on down/ack (never the broker's PUBACK). Acks are watermarks: one
// retires every batch below it. No ack → the whole window goes again, byte for byte, from the
// oldest batch, after a growing timeout, forever. The connection, the topics and the downlinks
// are uplink.ts's; this file owns the window, the pump that reads the outbox and the acks.
import type { AckedHeads, LedgerOutbox, OutboxBatchText } from '../../storage/index.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { ackSchema, describeIssues, type Reject } from '../../protocols/mqtt/payloads.js';
import { ackTimeoutMs, ackWindow, addSlice, encodeBatchText, newer, nextSlice, planAck, waitBeforeSending, type InFlight } from './batcher.js';
import type { MqttConfig } from './config-schema.js';

export interface SenderOptions {
  batch: MqttConfig['batch'];
  outbox: LedgerOutbox;
  gatewayId: string;
  log: Logger;
  clock: Clock;
  random: () => number;
  /** Whether the link to the broker is up now. */
  connected(): boolean;
  /** Publishes one batch payload on up/batch (QoS 1). */
  publishBatch(payload: string | Buffer): void;
  reject(r: { topic: string; reason: Reject['reason']; detail: string; ref?: string }): void;
  /** The cloud's clock from an ack (seconds). */
  onCloudTime?: (sec: number) => void;
}

export interface SenderStats {
  /** The oldest batch in flight. */
  inFlight: { batchId: string; fromSeq: number; toSeq: number; attempts: number } | null;
  inFlightBatches: number;
  ackedSeq: number;
  batchesAcked: number;
  resends: number;
}

export class Sender {
  /** Batches sent and not yet acked, oldest first, each continuing the one before. */
  private window: InFlight[] = [];
  private ackedSeq = 0;
  /** Acks that arrived in one turn of the event loop are applied as one ledger write. */
  private pendingAck: { upToSeq: number; cloudTimeSec?: number; heads: AckedHeads } | null = null;
  private ackImmediate: NodeJS.Immediate | null = null;
  /** The oldest unsent seq and when (monotonic) it was first seen: bounds the batching wait. */
  private firstSeen: { seq: number; mono: number } | null = null;
  private ackTimer: NodeJS.Timeout | null = null;
  private pumpTimer: NodeJS.Timeout | null = null;
  /** The pump timer waits for a small batch to age (maxWaitMs): a new record need not wake it. */
  private holdingForAge = false;
  /** The pump timer is a drain's pause between two reads: neither a commit nor an ack cuts it short. */
  private paced = false;
  /** The batch being assembled from slice reads (batcher.ts, addSlice), not yet sent. */
  private assembling: OutboxBatchText | null = null;
  private running = false;
  private readonly counters = { batchesAcked: 0, resends: 0 };

  constructor(private readonly o: SenderOptions) {}

  start(): void {
    this.running = true;
  }

  stop(): void {
    this.running = false;
    for (const t of [this.ackTimer, this.pumpTimer]) if (t) clearTimeout(t);
    // An ack not yet applied is dropped: those records go again and the cloud dedupes them.
    if (this.ackImmediate) clearImmediate(this.ackImmediate);
    this.ackImmediate = null;
    this.pendingAck = null;
    this.assembling = null;
    this.ackTimer = this.pumpTimer = null;
  }

  /** Wakes the sender now instead of at the next poll; called on every outbox commit. */
  kick(): void {
    if (this.running && !this.holdingForAge && !this.paced && this.o.connected() && this.window.length < this.o.batch.window) this.schedulePump(0);
  }

  /** Batches in flight when the link dropped may never have reached the broker: send them again. */
  linkUp(): void {
    this.resendWindow();
    this.schedulePump(0);
  }

  linkDown(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
  }

  stats(): SenderStats {
    const f = this.window[0];
    return {
      inFlight: f ? { batchId: f.batchId, fromSeq: f.fromSeq, toSeq: f.toSeq, attempts: f.attempts } : null,
      inFlightBatches: this.window.length,
      ackedSeq: this.ackedSeq,
      ...this.counters,
    };
  }

  private schedulePump(ms: number, paced = false): void {
    if (!this.running) return;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.paced = paced;
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = null;
      this.pump();
    }, ms);
  }

  /**
   * Reads one slice of the outbox (READ_SLICE_RECORDS records), then yields: a batch is
   * assembled over several turns of the event loop and sent when full or when the outbox is read
   * to its end, so a swipe's serial bytes, ledger writes and bus replies are handled between two
   * small reads (~1 ms each) instead of after a whole batch's (5-20 ms) or window's. Each read is
   * followed by a pause as long as it took (paced: a drain takes at most about half the loop).
   */
  private pump(): void {
    this.holdingForAge = false;
    this.paced = false;
    if (!this.running || !this.o.connected()) {
      this.assembling = null;
      return;
    }
    const b = this.o.batch;
    if (this.window.length >= b.window) return;
    const startedAt = performance.now();
    const last = this.window[this.window.length - 1];
    const acc = this.assembling;
    const asked = nextSlice(acc, b);
    let slice: OutboxBatchText;
    try {
      slice = this.o.outbox.nextBatchText({ ...asked, afterSeq: acc?.toSeq ?? last?.toSeq });
    } catch (e) {
      this.assembling = null;
      this.o.log.error({ err: e instanceof Error ? e.message : String(e) }, 'outbox read failed');
      this.schedulePump(b.pollMs);
      return;
    }
    this.ackedSeq = Math.max(this.ackedSeq, slice.ackedSeq);
    const step = addSlice(acc, slice, asked, b);
    const pause = Math.min(50, Math.max(1, Math.round(performance.now() - startedAt)));
    if (!step.done) {
      this.assembling = step.batch;
      this.schedulePump(pause, true);
      return;
    }
    this.assembling = null;
    const ob = step.batch ?? slice;
    const mono = this.o.clock.monotonic();
    if (ob.count > 0 && this.firstSeen?.seq !== ob.fromSeq) this.firstSeen = { seq: ob.fromSeq, mono };
    const wait = waitBeforeSending(ob, b, this.o.clock.now(), this.firstSeen ? mono - this.firstSeen.mono : 0);
    if (wait > 0) {
      this.schedulePump(Math.min(wait, b.pollMs));
      this.holdingForAge = Number.isFinite(wait);
      return;
    }
    const f = encodeBatchText(ob, this.o.clock.now(), last?.toSeq ?? ob.ackedSeq);
    this.window.push(f);
    this.send(f);
    if (this.ackTimer === null) this.startAckTimer();
    if (this.window.length < b.window) this.schedulePump(pause, true);
  }

  private send(f: InFlight): void {
    f.attempts++;
    if (f.attempts > 1) {
      this.counters.resends++;
      this.o.log.warn({ batchId: f.batchId, attempts: f.attempts }, 'batch resent: no ack yet');
    } else {
      this.o.log.debug({ batchId: f.batchId, records: f.count }, 'batch sent');
    }
    this.o.publishBatch(f.payload);
  }

  /** The whole window again, oldest first: the cloud acks only a stream without a hole. */
  private resendWindow(): void {
    if (this.window.length === 0 || !this.o.connected()) return;
    for (const f of this.window) this.send(f);
    this.startAckTimer();
  }

  /** The ack wait of the oldest batch in flight (restarted whenever the window moves on). */
  private startAckTimer(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    const oldest = this.window[0];
    if (oldest === undefined || !this.running) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      this.resendWindow();
    }, ackTimeoutMs(oldest.attempts, this.o.batch, this.o.random));
  }

  /** A down/ack message (JSON already parsed). */
  handleAck(raw: unknown, topic: string): void {
    const parsed = ackSchema.safeParse(raw);
    if (!parsed.success) {
      this.o.reject({ topic, reason: 'schema', detail: describeIssues(parsed.error) });
      return;
    }
    const ack = parsed.data;
    if (ack.gatewayId !== this.o.gatewayId) {
      this.o.reject({ topic, reason: 'wrong_room', detail: 'ack names another gateway', ref: ack.batchId });
      return;
    }
    const plan = planAck(ack);
    if (plan.ignoredRejections > 0) this.o.log.warn({ batchId: ack.batchId, ignored: plan.ignoredRejections }, 'ack rejects records above its upToSeq; ignored');
    const p = this.pendingAck;
    // The heads the cloud holds (the anchors `audit verify` proves): the newest of each wins.
    const heads: AckedHeads = { audit: newer(p?.heads.audit, ack.auditHead), money: newer(p?.heads.money, ack.moneyHead) };
    this.pendingAck = { upToSeq: Math.max(p?.upToSeq ?? 0, plan.upToSeq), cloudTimeSec: ack.cloudTimeSec ?? p?.cloudTimeSec, heads };
    if (plan.deadLetters.length > 0) {
      // Rare: dead letters first, then the watermark (ack() retires the rejected records too).
      try {
        for (const d of plan.deadLetters) this.o.outbox.deadLetter(d.seqs, d.reason);
      } catch (e) {
        this.pendingAck = p;
        this.o.log.error({ err: e instanceof Error ? e.message : String(e), batchId: ack.batchId }, 'ack could not be applied; the batch will be resent');
        return;
      }
      this.applyAcks();
      return;
    }
    // The broker has this ack's PUBACK before the ledger applies it (next turn): an ack lost to
    // a crash in between only means the window is resent and acked again. Waiting for the
    // write would hand acks to the ledger one per turn, and they would no longer coalesce.
    this.ackImmediate ??= setImmediate(() => {
      this.ackImmediate = null;
      this.applyAcks();
    });
  }

  private applyAcks(): void {
    if (this.ackImmediate) clearImmediate(this.ackImmediate);
    this.ackImmediate = null;
    const p = this.pendingAck;
    this.pendingAck = null;
    if (p === null || !this.running) return;
    let ackedSeq: number;
    try {
      ackedSeq = this.o.outbox.ack(p.upToSeq, p.heads).ackedSeq;
    } catch (e) {
      this.o.log.error({ err: e instanceof Error ? e.message : String(e), upToSeq: p.upToSeq }, 'ack could not be applied; the batches will be resent');
      return;
    }
    this.ackedSeq = ackedSeq;
    if (p.cloudTimeSec !== undefined) this.o.onCloudTime?.(p.cloudTimeSec);
    const w = ackWindow(this.window, ackedSeq);
    if (w.retired === 0 && w.dropped === 0) return;
    this.counters.batchesAcked += w.retired;
    this.window = w.keep;
    // The batch being assembled continues the last one in flight: gone with a dropped window.
    if (w.dropped > 0) this.assembling = null;
    this.startAckTimer();
    if (!this.paced) this.schedulePump(0);
  }
}
