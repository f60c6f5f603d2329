// Refunds decided before their command reaches the machine (migration 12): an app's cancel of a
// paid credit plans the refund and stores it, with the command's evidence (the LW-485 seq), in
// one transaction before the CANCEL frame leaves. Settling it is one more transaction: the
// refund of the captured vend (when the machine ran the command), the command's audit record and
// the intent's removal together, so no cancel is audited without its money or refunded twice.
import { z } from 'zod';
import { commandRecordSchema, recordCommand, type CommandRecord } from './commands.js';
import { inTx, type LedgerContext } from './context.js';
import { refundCaptured, type CapturedRefundResult } from './vends.js';

const detailSchema = z.record(z.string(), z.unknown());

export const refundIntentSchema = z.strictObject({
  /** Also the refund's key (once per vend and key): a cancel's is `remote_cancel:<command id>`. */
  intentId: z.string().min(1).max(96),
  vendId: z.string().min(1).max(64),
  machineId: z.string().min(1).max(64),
  amountCents: z.number().int().nonnegative(),
  /** Points back, for a vend paid with points. */
  points: z.number().int().positive().optional(),
  reason: z.string().min(1).max(64),
  /** The command's audit record, as it will be written when the intent is settled. */
  command: commandRecordSchema.omit({ result: true, reason: true, money: true }),
  /** The refund's detail for its audit record. */
  detail: detailSchema.optional(),
  /** What the machine's profile says identifies the command (parsed by the engine when read back). */
  evidence: z.unknown(),
}).refine((i) => i.amountCents > 0 || i.points !== undefined, { message: 'a refund gives back cents or points' });
export type RefundIntent = z.output<typeof refundIntentSchema>;
export type RefundIntentInput = z.input<typeof refundIntentSchema>;

interface Row {
  intent_id: string;
  vend_id: string;
  machine_id: string;
  amount_cents: number;
  points: number;
  reason: string;
  command: string;
  evidence: string;
}

/** Stores a planned refund before its command leaves; false when one with this id is already there. */
export function openRefundIntent(ctx: LedgerContext, input: RefundIntentInput): boolean {
  const i = refundIntentSchema.parse(input);
  return inTx(ctx.db, () =>
    ctx.db
      .prepare('INSERT OR IGNORE INTO refund_intents (intent_id, vend_id, machine_id, amount_cents, points, reason, command, evidence, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(i.intentId, i.vendId, i.machineId, i.amountCents, i.points ?? 0, i.reason, JSON.stringify({ command: i.command, detail: i.detail ?? null }), JSON.stringify(i.evidence ?? null), Math.floor(ctx.clock.now()))
      .changes === 1,
  );
}

const storedSchema = z.strictObject({ command: refundIntentSchema.shape.command, detail: detailSchema.nullable() });

/** Intents not settled yet, oldest first (a crash or a failed write left them). */
export function openRefundIntents(ctx: LedgerContext): RefundIntent[] {
  const rows = ctx.db.prepare('SELECT intent_id, vend_id, machine_id, amount_cents, points, reason, command, evidence FROM refund_intents ORDER BY created_ms, intent_id').all() as Row[];
  return rows.map((r) => {
    const s = storedSchema.parse(JSON.parse(r.command));
    return { intentId: r.intent_id, vendId: r.vend_id, machineId: r.machine_id, amountCents: r.amount_cents, ...(r.points > 0 ? { points: r.points } : {}), reason: r.reason, command: s.command, ...(s.detail !== null ? { detail: s.detail } : {}), evidence: JSON.parse(r.evidence) as unknown };
  });
}

export type IntentSettlement =
  /** The machine ran the command: the refund is made (once: its key is the intent id). */
  | { refund: true; result: string; money: string }
  /** The machine did not run it: no refund. */
  | { refund: false; result: string; reason: string | null; money: string };

/**
 * Settles an intent in one transaction: the refund (when the command ran), the command's audit
 * record saying what happened to money, and the intent's removal. The refund result is what the
 * ledger said (already_refunded when a settle before it got that far).
 */
export function settleRefundIntent(ctx: LedgerContext, intentId: string, s: IntentSettlement): { found: boolean; refund: CapturedRefundResult | null } {
  return inTx(ctx.db, () => {
    const row = ctx.db.prepare('SELECT intent_id, vend_id, machine_id, amount_cents, points, reason, command, evidence FROM refund_intents WHERE intent_id = ?').get(intentId) as Row | undefined;
    if (row === undefined) return { found: false, refund: null };
    const stored = storedSchema.parse(JSON.parse(row.command));
    const refund = s.refund ? refundCaptured(ctx, row.vend_id, { reason: row.reason, amountCents: row.amount_cents, ...(row.points > 0 ? { points: row.points } : {}), key: row.intent_id, ...(stored.detail !== null ? { detail: stored.detail } : {}) }) : null;
    const money = refund === null ? s.money : refund.ok ? s.money : `${s.money} (not refunded: ${refund.reason})`;
    const record: CommandRecord = { ...stored.command, result: s.result, reason: s.refund ? null : s.reason, money: money.slice(0, 200), vendId: row.vend_id };
    recordCommand(ctx, record);
    ctx.db.prepare('DELETE FROM refund_intents WHERE intent_id = ?').run(intentId);
    return { found: true, refund };
  });
}
