// The vend engine's hands: each action the pure vend state machine asks for (hold, send the
// credit with its evidence written first, read back, capture, refund, record a decline, alert),
// carried out against the ledger and the machine, and answered with the event it produced. An
// error never escapes: it becomes an 'error' event, so the session refunds or stays unresolved.
import type { Logger } from '../core/log.js';
import type { Ledger } from '../../storage/index.js';
import type { MachineKind } from '../machines/state.js';
import type { CommandEvidence } from '../profiles/types.js';
import type { PriceResult } from '../vend/pricing.js';
import type { VendAction, VendEvent, VendSession } from '../vend/vend-machine.js';
import type { MachineAccess } from './machine-access.js';
import { parseEvidence, readbackFromState } from './readback.js';

export interface ActionDeps {
  ledger: Ledger;
  machines: MachineAccess;
  /** The risk rules' balance floor, passed to the ledger's hold. */
  floorCents: number;
  /** Wait before each read-back: the LW-485 shows a command's result within 200 ms. */
  readbackDelayMs: number;
  log: Logger;
}

/** What the session needs to write the ledger records of one vend. */
export interface VendContext {
  method: 'card' | 'qr' | 'remote' | 'service';
  machineId: string;
  /** Stored with the hold: a captured washer vend counts as a wash for the account's usage. */
  machineKind?: MachineKind;
  program: number;
  readerId?: string;
  cardUid?: string;
  accountId?: string;
  price: Extract<PriceResult, { ok: true }>;
  token?: { tokenId: string; expiresAt: number; amountCents: number };
  declineRecorded: boolean;
}

/** A reconcile drives the same actions with only what the ledger row tells. */
export type ActionContext = Partial<VendContext> & { machineId: string; declineRecorded: boolean };

export async function performAction(d: ActionDeps, a: VendAction, session: VendSession, ctx: ActionContext): Promise<VendEvent | null> {
const { ledger, machines } = d;
  try {
    switch (a.type) {
      case 'record-hold': {
        const price = ctx.price;
        if (price === undefined || ctx.method === undefined) return { type: 'error', detail: 'hold without a priced context' };
        const r = ledger.hold({
          method: ctx.method,
          funding: ctx.token ? 'token' : ctx.accountId ? 'account' : 'none',
          machineId: ctx.machineId,
          program: a.request.program,
          ...(ctx.machineKind !== undefined ? { machineKind: ctx.machineKind } : {}),
          amountCents: a.amountCents,
          floorCents: d.floorCents,
          ruleSetVersion: price.ruleSetVersion,
          ruleId: price.ruleId,
          ...(ctx.accountId !== undefined ? { accountId: ctx.accountId } : {}),
          ...(ctx.cardUid !== undefined ? { cardUid: ctx.cardUid } : {}),
          ...(ctx.token ? { tokenId: ctx.token.tokenId, tokenExpiresAt: ctx.token.expiresAt, tokenAmountCents: ctx.token.amountCents } : {}),
          detail: { readerId: ctx.readerId ?? null, breakdown: price.breakdown, advice: price.advice.map((x) => x.message) },
        });
        if (r.ok) {
          d.log.info({ vendId: r.vendId, machineId: ctx.machineId, amountCents: a.amountCents, method: ctx.method }, 'vend held');
          return { type: 'held', vendId: r.vendId };
        }
        ctx.declineRecorded = true; // the ledger wrote the declined attempt in the same transaction
        return { type: 'declined', reason: r.outcome };
      }
      case 'send-credit': {
        const commander = machines.commander(a.request.machineId);
        // The evidence (seq, pulse counter) is committed before the frame leaves, so a crash
        // between the two can be settled by asking the machine.
        const beforeSend = (evidence: CommandEvidence): void => {
          const r = ledger.markCreditSent(a.vendId, evidence);
          if (!r.ok && r.reason !== 'already_sent') throw new Error(`ledger refused credit evidence: ${r.reason}`);
        };
        const outcome =
          a.request.command === 'add-time'
            ? await commander.addTime({ minutes: a.request.minutes ?? 0, amountCents: a.amountCents, beforeSend })
            : await commander.credit({ program: a.request.program, amountCents: machineCreditCents(a.amountCents), ...(a.request.minutes !== undefined ? { minutes: a.request.minutes } : {}), beforeSend });
        d.log.info({ vendId: a.vendId, machineId: a.request.machineId, outcome: outcome.status, reason: outcome.status === 'rejected' ? outcome.reason : undefined }, 'credit command');
        return { type: 'credit-outcome', outcome };
      }
      case 'mark-credit-sent': {
        const v = ledger.getVend(a.vendId);
        if (v?.state === 'held') ledger.markCreditSent(a.vendId, a.evidence);
        return null;
      }
      case 'read-back': {
        await delay(d.readbackDelayMs);
        const evidence = parseEvidence(a.evidence ?? ledger.getVend(a.vendId)?.creditEvidence);
        if (evidence === null) return { type: 'confirm-read', result: { verdict: 'unknown', detail: 'no command evidence to compare' } };
        const read = await machines.readNow(ctx.machineId);
        if (!read.ok) return { type: 'confirm-read', result: { verdict: 'unknown', detail: read.detail } };
        return { type: 'confirm-read', result: readbackFromState(evidence, read.state) };
      }
      case 'capture': {
        const r = ledger.capture(a.vendId);
        if (!r.ok) d.log.error({ vendId: a.vendId, reason: r.reason }, 'ledger refused capture');
        else d.log.info({ vendId: a.vendId, machineId: ctx.machineId }, 'vend captured');
        return null;
      }
      case 'refund': {
        const r = ledger.refund(a.vendId, { reason: a.reason });
        if (!r.ok) d.log.error({ vendId: a.vendId, reason: r.reason }, 'ledger refused refund');
        else d.log.warn({ vendId: a.vendId, machineId: ctx.machineId, reason: a.reason }, 'vend refunded');
        return { type: 'refunded' };
      }
      case 'record-decline': {
        if (!ctx.declineRecorded) {
          ledger.recordDecline({
            method: ctx.method ?? 'card', reason: a.reason, machineId: ctx.machineId, program: session.request.program,
            ...(ctx.cardUid !== undefined ? { cardUid: ctx.cardUid } : {}),
            ...(ctx.accountId !== undefined ? { accountId: ctx.accountId } : {}),
            ...(ctx.token ? { tokenId: ctx.token.tokenId } : {}),
          });
          ctx.declineRecorded = true;
        }
        return null;
      }
      case 'alert': {
        ledger.appendAlert({ code: a.alert.code, message: a.alert.detail, machineId: ctx.machineId, ...(session.vendId ? { vendId: session.vendId } : {}), detail: { severity: a.alert.severity } });
        d.log.warn({ machineId: ctx.machineId, vendId: session.vendId, code: a.alert.code }, a.alert.detail);
        return null;
      }
    }
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    d.log.error({ action: a.type, vendId: session.vendId, err: detail }, 'vend action failed');
    return { type: 'error', detail };
  }
}

/**
 * What the machine is told was paid. A free vend (an included wash, every-Nth-free) is held and
 * captured at 0, but the LW-485 refuses a CREDIT of 0 as a bad argument: it is credited 1 cent,
 * which its panel and totalizer show. The ledger stays the truth. RIO-8 pulses by program anyway.
 */
export function machineCreditCents(amountCents: number): number {
  return amountCents > 0 ? amountCents : 1;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
