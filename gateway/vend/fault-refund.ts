// What a user gets back when a paid cycle is cut short by a machine fault. Pure; the engine
// supplies the cycle's duration and how far it got (LW-485 freezes the remaining time in input 18
// on a fault). A fault before the cycle started is no refund case: the LW-485 keeps that credit.
import { z } from 'zod';

export const faultRefundPolicySchema = z.strictObject({
  /** full: the whole price back; prorated: the unused share of the price, by remaining time. */
  mode: z.enum(['full', 'prorated']).default('prorated'),
  /** A fault within this share of the cycle's duration is refunded; later ones are not. 1 = always. */
  withinShare: z.number().min(0).max(1).default(1),
  /** Refunds below this are not worth a ledger entry and a push message. */
  minRefundCents: z.number().int().min(0).default(0),
});

export type FaultRefundPolicy = z.infer<typeof faultRefundPolicySchema>;

export interface FaultedCycle {
  paidCents: number;
  durationSec: number;
  /** Seconds the cycle had left when it faulted. Clamped to 0..durationSec. */
  remainingSec: number;
}

export interface FaultRefund {
  refundCents: number;
  reason: 'fault_abort';
  rule: 'full' | 'prorated' | 'too-late' | 'below-minimum';
  /** Share of the cycle done when it faulted, 0..1. */
  elapsedShare: number;
}

export function faultRefund(policy: FaultRefundPolicy, cycle: FaultedCycle): FaultRefund {
  const paid = Math.max(0, Math.trunc(cycle.paidCents));
  const duration = Math.max(0, cycle.durationSec);
  const remaining = Math.min(duration, Math.max(0, cycle.remainingSec));
  // A cycle of unknown length (0) is treated as faulted at its start: the user got nothing.
  const elapsedShare = duration === 0 ? 0 : (duration - remaining) / duration;
  const base = { reason: 'fault_abort' as const, elapsedShare };
  if (elapsedShare > policy.withinShare) return { ...base, refundCents: 0, rule: 'too-late' };
  // The unused share rounds up: a fraction of a cent goes to the customer, as everywhere in pricing.
  const refundCents = policy.mode === 'full' || duration === 0 ? paid : Math.ceil((paid * remaining) / duration);
  if (refundCents < policy.minRefundCents) return { ...base, refundCents: 0, rule: 'below-minimum' };
  return { ...base, refundCents, rule: policy.mode === 'full' || duration === 0 ? 'full' : 'prorated' };
}
