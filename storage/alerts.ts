// Alerts (a machine fault mid-vend, a reconciliation that found a mismatch, a dead letter):
// an audit record and an outbox record in one transaction.
import { z } from 'zod';
import { inTx, type LedgerContext } from './context.js';
import { recordFact } from './outbox.js';

export const alertSchema = z.object({
  code: z.string().min(1).max(64),
  message: z.string().max(500).optional(),
  machineId: z.string().min(1).max(64).optional(),
  vendId: z.string().min(1).max(64).optional(),
  amountCents: z.number().int().optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
});
export type AlertInput = z.input<typeof alertSchema>;

export function appendAlert(ctx: LedgerContext, input: AlertInput): { auditSeq: number } {
  const a = alertSchema.parse(input);
  return inTx(ctx.db, () => {
    const fact = recordFact(ctx, {
      type: 'alert',
      money: false,
      audit: { kind: 'alert', result: 'raised', reason: a.code, machineId: a.machineId, vendId: a.vendId, amountCents: a.amountCents, detail: { ...a.detail, message: a.message ?? null } },
      payload: { code: a.code, message: a.message ?? null, machineId: a.machineId ?? null, vendId: a.vendId ?? null, amountCents: a.amountCents ?? null, detail: a.detail ?? null },
    });
    return { auditSeq: fact.audit.seq };
  });
}
