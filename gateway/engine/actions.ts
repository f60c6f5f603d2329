// The vend engine's hands: each action the pure vend state machine asks for (hold, send the
// credit with its evidence written first, read back, capture, refund, record a decline, alert),
// carried out against the ledger and the machine, and answered with the event it produced. An
// error never escapes: it becomes an 'error' event, so the session refunds or stays unresolved.
import type { Logger } from '../core/log.js';
import { sleep, type Timers } from '../core/timers.js';
import type { Ledger } from '../../storage/index.js';
import type { MachineKind } from '../machines/state.js';
import type { CommandEvidence } from '../profiles/types.js';
import type { PriceResult } from '../vend/pricing.js';
import type { RiskState } from '../vend/risk.js';
import { RISK_STATE } from './risk-store.js';
import type { VendAction, VendEvent, VendSession } from '../vend/vend-machine.js';
import type { MachineAccess } from './machine-access.js';
import { receiptFor } from '../profiles/evidence.js';
import { isSqliteError, type LedgerHealth } from './ledger-health.js';

export interface ActionDeps {
  ledger: Ledger;
  machines: MachineAccess;
  /** The risk rules' balance floor, passed to the ledger's hold. */
  floorCents: number;
  /** Wait before each read-back (engine-options.ts). */
  readbackDelayMs: number;
  timers: Timers;
  log: Logger;
  /** Told of every ledger write that failed or went through on a money step. */
  health: LedgerHealth;
  /**
   * Told of a credit vend once its capture is stored: the machine may already be in the cycle it
   * paid (a Start pressed before the read-back), which the fault watch could not bind then
   * (FaultWatch.vendCaptured). Not for an add-time: it joins the cycle it was bought for.
   */
  captured?(machineId: string, vendId: string): void;
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
  /** A secure card's SUN counter (docs/secure-cards.md): spent by the hold or decline, in its transaction. */
  sunCounter?: number;
  accountId?: string;
  price: Extract<PriceResult, { ok: true }>;
  token?: { tokenId: string; expiresAt: number; amountCents: number };
  /** Extra facts for the hold's audit record (a remote command's id, who pays). */
  holdDetail?: Record<string, unknown>;
  /** Paid with the account's points: the hold takes these points and no cents. */
  points?: number;
  /**
   * The app command this vend is (an add-time): its audit record goes into the capture's or the
   * refund's transaction, so the command is audited with its money or not at all.
   */
  command?: { source: 'remote'; commandId: string; kind: string; machineId: string };
  /** Told the vend id once the hold is stored. */
  onHeld?: (vendId: string) => void;
  /**
   * The risk state this vend leaves once captured, stored in the capture's transaction (one
   * fsync'd commit less per vend): next() computes it, captured() keeps it once the capture
   * committed. Set by the engine for a vend the risk rules count.
   */
  riskOnCapture?: { next(): RiskState; captured(state: RiskState): void };
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
        const method = ctx.method;
        if (price === undefined || method === undefined) return { type: 'error', detail: 'hold without a priced context' };
        const r = ledgerWrite(d, 'hold', () => ledger.hold({
          method,
          funding: ctx.token ? 'token' : ctx.accountId ? 'account' : 'none',
          machineId: ctx.machineId,
          program: a.request.program,
          ...(ctx.machineKind !== undefined ? { machineKind: ctx.machineKind } : {}),
          amountCents: a.amountCents,
          floorCents: d.floorCents,
          ...(ctx.points !== undefined ? { points: ctx.points } : {}),
          ruleSetVersion: price.ruleSetVersion,
          ruleId: price.ruleId,
          ...(ctx.accountId !== undefined ? { accountId: ctx.accountId } : {}),
          ...(ctx.cardUid !== undefined ? { cardUid: ctx.cardUid } : {}),
          ...(ctx.sunCounter !== undefined ? { sunCounter: ctx.sunCounter } : {}),
          ...(ctx.token ? { tokenId: ctx.token.tokenId, tokenExpiresAt: ctx.token.expiresAt, tokenAmountCents: ctx.token.amountCents } : {}),
          detail: { readerId: ctx.readerId ?? null, breakdown: price.breakdown, advice: price.advice.map((x) => x.message), ...(ctx.holdDetail ?? {}) },
        }));
        // Nothing held, nothing sent: the vend is declined for the room's reason.
        if (r === null) return { type: 'declined', reason: 'ledger_unavailable' };
        if (r.ok) {
          ctx.onHeld?.(r.vendId);
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
          const r = ledgerWrite(d, 'markCreditSent', () => ledger.markCreditSent(a.vendId, evidence));
          if (r === null) throw new Error('ledger could not store the credit evidence: command not sent');
          if (!r.ok && r.reason !== 'already_sent') throw new Error(`ledger refused credit evidence: ${r.reason}`);
        };
        const outcome =
          a.request.command === 'add-time'
            ? await commander.addTime({ minutes: a.request.minutes ?? 0, amountCents: a.amountCents, beforeSend })
            : await commander.vendCredit({ program: a.request.program, amountCents: a.amountCents, ...(a.request.minutes !== undefined ? { minutes: a.request.minutes } : {}), beforeSend });
        d.log.info({ vendId: a.vendId, machineId: a.request.machineId, outcome: outcome.status, reason: outcome.status === 'rejected' ? outcome.reason : undefined }, 'credit command');
        return { type: 'credit-outcome', outcome };
      }
      case 'mark-credit-sent': {
        const v = ledger.getVend(a.vendId);
        if (v?.state === 'held') ledgerWrite(d, 'markCreditSent', () => ledger.markCreditSent(a.vendId, a.evidence));
        return null;
      }
      case 'read-back': {
        await sleep(d.timers, d.readbackDelayMs);
        // The command's own profile reads the machine's answer (its receipt of the evidence).
        const receipt = receiptFor(a.evidence ?? ledger.getVend(a.vendId)?.creditEvidence);
        if (receipt === null) return { type: 'confirm-read', result: { verdict: 'unknown', detail: 'no command evidence to compare' } };
        const read = await machines.readNow(ctx.machineId);
        if (!read.ok) return { type: 'confirm-read', result: { verdict: 'unknown', detail: read.detail } };
        return { type: 'confirm-read', result: receipt.readback(read.state) };
      }
      // Done only once stored: a write that throws leaves the session capturing/refunding (retried).
      case 'capture': {
        const cmd = ctx.command;
        const amount = ctx.price?.amountCents;
        const risk = ctx.riskOnCapture?.next();
        const r = ledgerWrite(d, 'capture', () =>
          ledger.capture(
            a.vendId,
            cmd ? { command: { ...cmd, result: 'accepted', reason: null, money: `${cmd.kind} paid by vend ${a.vendId} (${amount ?? '?'} ¢)`, vendId: a.vendId } } : undefined,
            risk !== undefined ? { setting: RISK_STATE, value: risk } : undefined,
          ),
        );
        if (r === null) return { type: 'error', detail: 'capture not stored' };
        // In force from this capture on. Not stored with it (alsoStored false): left to the
        // engine, which saves it after the vend in a commit of its own, as for an unresolved vend.
        if (r.ok && risk !== undefined && r.alsoStored !== false) ctx.riskOnCapture?.captured(risk);
        if (r.ok || ledger.getVend(a.vendId)?.state === 'captured') {
          d.log.info({ vendId: a.vendId, machineId: ctx.machineId }, 'vend captured');
          if (session.request.command !== 'add-time') d.captured?.(ctx.machineId, a.vendId);
          return { type: 'captured' };
        }
        d.log.error({ vendId: a.vendId, reason: r.reason }, 'ledger refused capture');
        return { type: 'error', detail: `ledger refused capture: ${r.reason}` };
      }
      case 'refund': {
        const cmd = ctx.command;
        const r = ledgerWrite(d, 'refund', () =>
          ledger.refund(a.vendId, { reason: a.reason, ...(cmd ? { command: { ...cmd, result: 'rejected', reason: a.reason, money: `vend ${a.vendId} refunded (${a.reason})`, vendId: a.vendId } } : {}) }),
        );
        if (r === null) return { type: 'error', detail: 'refund not stored' };
        if (r.ok || ledger.getVend(a.vendId)?.state === 'refunded') {
          d.log.warn({ vendId: a.vendId, machineId: ctx.machineId, reason: a.reason }, 'vend refunded');
          return { type: 'refunded' };
        }
        d.log.error({ vendId: a.vendId, reason: r.reason }, 'ledger refused refund');
        return { type: 'error', detail: `ledger refused refund: ${r.reason}` };
      }
      case 'record-decline': {
        if (!ctx.declineRecorded) {
          ledger.recordDecline({
            method: ctx.method ?? 'card', reason: a.reason, machineId: ctx.machineId, program: session.request.program,
            ...(ctx.cardUid !== undefined ? { cardUid: ctx.cardUid } : {}),
            ...(ctx.cardUid !== undefined && ctx.sunCounter !== undefined ? { sunCounter: ctx.sunCounter } : {}),
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
 * Runs one ledger write of a money step: its failure is reported to the ledger's health (the room
 * then declines vends) and returned as null, never thrown past the session.
 */
export function ledgerWrite<T>(d: Pick<ActionDeps, 'health' | 'log'>, op: string, write: () => T): T | null {
  try {
    const r = write();
    d.health.ok();
    return r;
  } catch (e) {
    // SQLite's own failures (disk full, I/O, read-only, locked) stop the room; anything else is
    // a bug in this one write: not stored either, but no reason to decline every vend.
    if (isSqliteError(e)) d.health.failed(e, op);
    d.log.error({ op, err: e instanceof Error ? e.message : String(e) }, 'ledger write failed');
    return null;
  }
}

