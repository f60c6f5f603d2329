// Non-money events that ride on the next commit instead of paying for one of their own. A
// machine's status change (credited or running, then done or idle) cost an fsync'd commit each,
// two per vend: ~2 WAL pages plus the WAL's partly written 4 KiB page written again, ~6 kB of SD
// card writes apiece (docs/performance.md section 7). The capture of a vend commits a few hundred
// ms after the status change that precedes it, so the first of them usually rides along.
//
// An event waits in memory at most its delay: maxDelayMs (2 s), or longer when the caller says
// so (a cycle's end: nothing else commits then, and the next swipe may be minutes away). It is
// written at the start of the connection's next transaction (before that transaction's own
// records, so seq order stays the order things happened in), or, with every other waiting
// event, when the first of them is due, or at close. The transaction commits it or rolls it back
// with its own writes; rolled back, it waits on. What a crash can lose: the events still within
// their delay, which are status history, never money (money, declines and alerts are refused
// here as by enqueueEvent and always commit in their own transaction).
import type { Logger } from './deps.js';
import { inTx, setTxRider, type LedgerContext } from './context.js';
import { enqueue, parseEvent } from './outbox.js';

export const EVENTS_ALONG_MAX_DELAY_MS = 2000;
/** The longest an event may be asked to wait (a caller's delay above it is refused). */
export const EVENTS_ALONG_LONGEST_DELAY_MS = 3_600_000;
/**
 * Events kept while none can be written (a ledger that refuses writes for hours): the oldest are
 * dropped beyond this, counted in the log, so memory stays bounded. Status history, never money.
 */
export const EVENTS_ALONG_MAX_WAITING = 1000;

interface Waiting {
  type: string;
  payloadJson: string;
}

export class EventsAlong {
  private readonly waiting: Waiting[] = [];
  /** How many of the first waiting events the open transaction has written. */
  private written = 0;
  private timer: NodeJS.Timeout | null = null;
  /** When the timer fires (performance.now() ms): the earliest due of the waiting events. */
  private timerDue = Infinity;
  private readonly log: Logger;

  constructor(
    private readonly ctx: LedgerContext,
    private readonly maxDelayMs: number = EVENTS_ALONG_MAX_DELAY_MS,
  ) {
    this.log = ctx.logger;
    setTxRider(ctx.db, {
      write: () => this.writeWaiting(),
      committed: () => this.committed(),
      rolledBack: () => {
        this.written = 0;
      },
    });
  }

  /**
   * Checked now (a bad type or payload throws here, never inside somebody else's transaction).
   * `delayMs`: how long it may wait for a commit to ride on (default maxDelayMs).
   */
  add(type: string, payload: unknown, delayMs: number = this.maxDelayMs): void {
    if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > EVENTS_ALONG_LONGEST_DELAY_MS) throw new Error(`events along: delay ${delayMs} ms is not an integer from 0 to ${EVENTS_ALONG_LONGEST_DELAY_MS}`);
    const e = parseEvent(type, payload);
    if (this.waiting.length >= EVENTS_ALONG_MAX_WAITING && this.written === 0) {
      const dropped = this.waiting.splice(0, this.waiting.length - EVENTS_ALONG_MAX_WAITING + 1);
      this.log.warn({ dropped: dropped.length, waiting: this.waiting.length }, 'status events not stored for too long: oldest dropped');
    }
    this.waiting.push({ type: e.type, payloadJson: e.json });
    const due = performance.now() + delayMs;
    if (due < this.timerDue) this.setTimer(delayMs, due);
  }

  get pending(): number {
    return this.waiting.length;
  }

  /** Writes what waits in a transaction of its own (the time is up, or the ledger closes). */
  flush(): void {
    this.clearTimer();
    if (this.waiting.length === 0 || !this.ctx.db.open) return;
    try {
      inTx(this.ctx.db, () => undefined);
    } catch (e) {
      this.log.error({ err: e instanceof Error ? e.message : String(e), events: this.waiting.length }, 'waiting events not stored; retrying');
      this.setTimer(this.maxDelayMs, performance.now() + this.maxDelayMs);
    }
  }

  close(): void {
    this.flush();
    this.clearTimer();
    setTxRider(this.ctx.db, undefined);
  }

  private writeWaiting(): void {
    for (const w of this.waiting) enqueue(this.ctx, { type: w.type, money: false, payload: JSON.parse(w.payloadJson) as unknown });
    this.written = this.waiting.length;
  }

  private committed(): void {
    this.waiting.splice(0, this.written);
    this.written = 0;
    if (this.waiting.length === 0) this.clearTimer();
  }

  private setTimer(ms: number, due: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => this.flush(), ms);
    this.timer.unref();
    this.timerDue = due;
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerDue = Infinity;
  }
}
