// Refunds of captured vends (a fault cut the cycle short, the app cancelled it, an operator gave
// the money back) that the ledger did not store when they were decided. They are not reported
// done; they are kept here and written again on the engine's retry timer. refundCaptured is at
// most once per vend in the ledger, so a retry that races a success cannot pay twice. Lost on a
// restart: the fault or cancel is then re-decided by nobody, and the alert the engine files when
// the ledger heals tells the operator to look (docs/vend-engine.md).
import type { Ledger } from '../../storage/index.js';
import { ledgerWrite, type ActionDeps } from './actions.js';

export interface PendingRefund {
  vendId: string;
  input: { reason: string; amountCents: number; points?: number; detail?: Record<string, unknown> };
}

export class PendingRefunds {
  private readonly pending = new Map<string, PendingRefund>();

  constructor(
    private readonly ledger: Ledger,
    private readonly deps: Pick<ActionDeps, 'health' | 'log'>,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  list(): PendingRefund[] {
    return [...this.pending.values()];
  }

  add(vendId: string, input: PendingRefund['input']): void {
    this.pending.set(vendId, { vendId, input });
  }

  /** Tries one refund now; kept for a retry when the ledger does not store it. */
  refund(vendId: string, input: PendingRefund['input']): ReturnType<Ledger['refundCaptured']> | null {
    const r = ledgerWrite(this.deps, 'refundCaptured', () => this.ledger.refundCaptured(vendId, input));
    if (r === null) this.add(vendId, input);
    else this.pending.delete(vendId);
    return r;
  }

  retry(): void {
    for (const p of this.list()) {
      const r = this.refund(p.vendId, p.input);
      if (r !== null) this.deps.log.warn({ vendId: p.vendId, refundedCents: r.ok ? r.refundedCents : 0, result: r.ok ? 'refunded' : r.reason }, 'pending refund retried');
    }
  }
}
