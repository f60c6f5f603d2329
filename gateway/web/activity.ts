// Follows the ledger's audit trail: every part of the gateway (vend engine, ledger, uplink)
// records alerts, vends and declines there, and nothing else announces them. One reader polls
// the head (a single meta read) and turns new records into page events and metric counters.
// One page per turn of the event loop: a burst of records (a backlog written at once, a restore)
// is caught up over several turns, with the swipes' bytes and bus replies handled in between.
import { EventEmitter } from 'node:events';
import type { AuditRecord, VendRecord } from '../../storage/index.js';
import type { Logger } from '../core/log.js';
import type { AlertView, VendView } from './status-schema.js';
import type { StatusSource } from './status-source.js';

const PAGE = 500;
/** Records one poll reads in one turn (each vend record also reads its vend row). */
export const TURN_PAGE = 100;
/** How far back start() looks for alerts to show. */
const PRIME_RECORDS = 2000;
const VEND_KINDS = new Set(['hold', 'credit_sent', 'capture', 'refund']);

export interface ActivityCounts {
  /** Captured vends and their cents, by method. */
  captured: Map<string, { count: number; cents: number }>;
  /** Refunded vends and their cents, by reason. */
  refunds: Map<string, { count: number; cents: number }>;
  declines: Map<string, number>;
  alerts: Map<string, number>;
  cardBlocks: number;
}

interface ActivityEvents {
  alert: [AlertView];
  vend: [VendView];
}

export function vendView(v: VendRecord): VendView {
  return {
    vendId: v.vendId,
    createdMs: v.createdMs,
    method: v.method,
    funding: v.funding,
    machineId: v.machineId,
    program: v.program,
    cardMask: v.cardMask,
    amountCents: v.amountCents,
    state: v.state,
    capturedCents: v.capturedCents,
    refundedCents: v.refundedCents,
    finishReason: v.finishReason,
    finishedMs: v.finishedMs,
  };
}

function alertView(r: AuditRecord): AlertView {
  let message: string | null = null;
  if (r.detail !== null) {
    try {
      const d: unknown = JSON.parse(r.detail);
      if (typeof d === 'object' && d !== null && 'message' in d && typeof d.message === 'string') message = d.message;
    } catch {
      // A detail that is not JSON is shown without a message rather than not at all.
    }
  }
  return { seq: r.seq, at: r.wallMs, code: r.reason ?? 'alert', message, machineId: r.machineId, vendId: r.vendId, clockTrusted: r.clockTrusted };
}

function bump<K>(m: Map<K, number>, k: K): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

export class ActivityTail extends EventEmitter<ActivityEvents> {
  /** Counted since start(): Prometheus counters start at zero with the process. */
  readonly counts: ActivityCounts = { captured: new Map(), refunds: new Map(), declines: new Map(), alerts: new Map(), cardBlocks: 0 };
  private lastSeq = 0;
  private recent: AlertView[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** The next page of a burst, on the next turn. */
  private more: NodeJS.Immediate | null = null;
  private failing = false;
  /** A page is open (an event stream): new records are looked for every pollMs, else every idlePollMs. */
  private watched = false;

  constructor(
    private readonly source: Pick<StatusSource, 'auditHeadSeq' | 'readAudit' | 'getVend'>,
    private readonly opts: { pollMs: number; idlePollMs: number; keepAlerts: number; logger: Logger },
  ) {
    super();
  }

  /**
   * Follows the trail closely only while someone watches: with no page open nothing needs an
   * event within half a second, and /metrics and /api/status catch up when they are asked. A page
   * that opens sees at once what happened while nobody looked.
   */
  setWatched(watched: boolean): void {
    if (watched === this.watched) return;
    this.watched = watched;
    if (this.timer === null) return;
    this.arm();
    if (watched) this.poll();
  }

  private arm(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => this.poll(), this.watched ? this.opts.pollMs : this.opts.idlePollMs);
    this.timer.unref();
  }

  start(): void {
    if (this.timer) return;
    const head = this.source.auditHeadSeq();
    for (let from = Math.max(1, head - PRIME_RECORDS + 1); from <= head; from += PAGE) {
      for (const r of this.source.readAudit(from, PAGE)) if (r.kind === 'alert') this.remember(alertView(r));
    }
    this.lastSeq = head;
    this.arm();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.more) clearImmediate(this.more);
    this.timer = null;
    this.more = null;
  }

  /** Newest first. */
  alerts(): AlertView[] {
    return [...this.recent].reverse();
  }

  /**
   * Reads one page (TURN_PAGE records) of what was appended since the last call; while more is
   * waiting, the next page follows on the next turn of the event loop. Also called by /metrics
   * for fresh counts (one page: during a burst the counts catch up over a few turns).
   */
  poll(): void {
    try {
      const head = this.source.auditHeadSeq();
      // A head behind us means another database file; start following it from where it is.
      if (head < this.lastSeq) this.lastSeq = head;
      if (this.lastSeq < head) {
        const page = this.source.readAudit(this.lastSeq + 1, TURN_PAGE);
        const last = page.at(-1);
        if (last === undefined) {
          this.lastSeq = head; // pruned away under us
        } else {
          for (const r of page) this.observe(r);
          this.lastSeq = last.seq;
        }
      }
      this.failing = false;
      if (this.lastSeq < head && this.timer !== null) {
        this.more ??= setImmediate(() => {
          this.more = null;
          this.poll();
        });
      }
    } catch (e) {
      if (!this.failing) this.opts.logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'web: reading the audit trail failed');
      this.failing = true;
    }
  }

  private observe(r: AuditRecord): void {
    const c = this.counts;
    switch (r.kind) {
      case 'alert': {
        const a = alertView(r);
        bump(c.alerts, a.code);
        this.remember(a);
        this.emit('alert', a);
        break;
      }
      case 'decline':
        bump(c.declines, r.reason ?? 'unknown');
        break;
      case 'capture': {
        const k = r.method ?? 'unknown';
        const prev = c.captured.get(k) ?? { count: 0, cents: 0 };
        c.captured.set(k, { count: prev.count + 1, cents: prev.cents + (r.amountCents ?? 0) });
        break;
      }
      case 'refund': {
        const k = r.reason ?? 'unknown';
        const prev = c.refunds.get(k) ?? { count: 0, cents: 0 };
        c.refunds.set(k, { count: prev.count + 1, cents: prev.cents + (r.amountCents ?? 0) });
        break;
      }
      case 'card_status':
        if (r.result === 'blocked') c.cardBlocks += 1;
        break;
      default:
        break;
    }
    if (r.vendId !== null && VEND_KINDS.has(r.kind)) {
      const v = this.source.getVend(r.vendId);
      if (v) this.emit('vend', vendView(v));
    }
  }

  private remember(a: AlertView): void {
    this.recent.push(a);
    if (this.recent.length > this.opts.keepAlerts) this.recent.splice(0, this.recent.length - this.opts.keepAlerts);
  }
}
