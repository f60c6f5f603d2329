// A machine command that is not a vend (an app's pause, resume, start or cancel; an operator's
// clear-fault or service mode): an audit record and an outbox record in one transaction, saying
// what the machine answered and what it did to money (usually nothing, and the record says so).
import { z } from 'zod';
import { inTx, type LedgerContext } from './context.js';
import { recordFact } from './outbox.js';

export const commandRecordSchema = z.strictObject({
  /** Who asked: an app command from the cloud, or an operator at the status page/CLI. */
  source: z.enum(['remote', 'operator']),
  /** The remote command's id, when it has one. */
  commandId: z.string().min(1).max(64).optional(),
  kind: z.string().min(1).max(32),
  machineId: z.string().min(1).max(64),
  /** accepted, rejected, unknown, unsupported, or refused (by the gateway, before the machine). */
  result: z.string().min(1).max(32),
  reason: z.string().max(64).nullable(),
  /** What happened to money: 'none' for pause/resume/start of an already paid credit, or the vend it concerns. */
  money: z.string().min(1).max(200),
  vendId: z.string().min(1).max(64).optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
});
export type CommandRecord = z.input<typeof commandRecordSchema>;

export function recordCommand(ctx: LedgerContext, input: CommandRecord): { auditSeq: number } {
  const c = commandRecordSchema.parse(input);
  return inTx(ctx.db, () => {
    const fact = recordFact(ctx, {
      type: 'command',
      money: false,
      audit: {
        kind: 'command', result: c.result, reason: c.reason, method: c.source, machineId: c.machineId, vendId: c.vendId,
        detail: { ...c.detail, command: c.kind, commandId: c.commandId ?? null, money: c.money },
      },
      payload: { source: c.source, commandId: c.commandId ?? null, kind: c.kind, machineId: c.machineId, result: c.result, reason: c.reason, money: c.money, vendId: c.vendId ?? null },
    });
    return { auditSeq: fact.audit.seq };
  });
}
