// One authorisation path for every paid vend, the payment method as data: a card at a reader, a
// QR token, an app start paid from an account, an app start the cloud already took online. Each
// is priced by the same rules (an account gets its tier, included washes and every-Nth-free),
// an account payer goes through the same risk rules, and the result is the one VendContext the
// vend session holds, credits, captures or refunds by. Reads only: the caller writes the decline.
import { createHash } from 'node:crypto';
import type { AccountUsage, Ledger } from '../../storage/index.js';
import type { MachineState } from '../machines/state.js';
import { priceVend, toLocalTime } from '../vend/pricing.js';
import type { PriceRules } from '../vend/pricing-schema.js';
import { assess, type RiskConfig, type RiskState } from '../vend/risk.js';
import type { ReasonCode } from '../vend/reasons.js';
import { localMonthStartMs, priceAccount } from './account-pricing.js';
import type { VendContext } from './actions.js';
import type { VendAlert } from '../vend/vend-machine.js';

export type Payer =
  /** A card presented at a reader: its account pays. */
  | { by: 'card'; uid: string; readerId: string; sunCounter?: number }
  /** A verified QR token: paid online for up to amountCents. */
  | { by: 'token'; readerId: string; tokenId: string; expiresAt: number; amountCents: number; accountId?: string }
  /** A remote command naming the account that pays (held from its balance, as a card vend). */
  | { by: 'account'; accountId: string; commandId: string; maxCents?: number; withPoints?: boolean }
  /** A remote command the cloud already charged amountCents for. */
  | { by: 'prepaid'; amountCents: number; commandId: string; expiresAtSec: number };

export interface VendAsk {
  machineId: string;
  payer: Payer;
  /** The program to credit; default: the machine's selected or first program. */
  program: number;
  /** Buying minutes on a running dryer (its own priced movement) instead of a new cycle. */
  addTime?: { minutes: number };
}

export interface AuthDeps {
  ledger: Ledger;
  pricing: PriceRules;
  risk: RiskConfig;
  riskState: RiskState;
  exposure: (accountId: string | null) => { accountCents: number; roomCents: number };
  /** Vends of the account not captured yet (authorized, held, crediting): they count as used. */
  inFlight: (accountId: string) => { washer: number; dryer: number };
  now: number;
}

export type Authorization =
  | { ok: true; ctx: VendContext; riskKey: string | null }
  | { ok: false; reason: ReasonCode; accountId?: string; amountCents?: number; riskKey: string | null; alert?: VendAlert };

export function vendMethodOf(p: Payer): VendContext['method'] {
  return p.by === 'card' ? 'card' : p.by === 'token' ? 'qr' : 'remote';
}

/** The readerId a decision is filed under (risk rules count per reader). */
export function readerOf(p: Payer): string {
  return p.by === 'card' || p.by === 'token' ? p.readerId : 'remote';
}

/**
 * The used-token id of a prepaid remote command: its hold claims it like a QR token's, so one
 * command id can pay for one vend only, even across a restart.
 */
export function prepaidTokenId(commandId: string): string {
  return createHash('sha256').update(`remote-command:${commandId}`).digest('hex').slice(0, 32);
}

/**
 * The account's usage with its vends still in flight counted as done: two vends at once on two
 * machines must not both get the last included wash (or both be the Nth). A vend that ends
 * refunded then un-counts itself, as the ledger's usage does.
 */
function usageNow(d: AuthDeps, accountId: string): AccountUsage {
  const u = d.ledger.accountUsage(accountId, { monthStartMs: localMonthStartMs(d.now, d.pricing.timeZone) });
  const f = d.inFlight(accountId);
  return {
    ...u,
    washesThisMonth: u.washesThisMonth + f.washer,
    lifetimeVends: u.lifetimeVends + f.washer + f.dryer,
    lifetimeByKind: { washer: u.lifetimeByKind.washer + f.washer, dryer: u.lifetimeByKind.dryer + f.dryer },
  };
}

export function authorize(d: AuthDeps, ask: VendAsk, state: MachineState): Authorization {
  const { ledger, now } = d;
  const p = ask.payer;
  // Who pays from a balance, and the key the risk rules count them under.
  const accountPayer = p.by === 'card' ? ledger.lookupCard(p.uid)?.accountId : p.by === 'account' ? p.accountId : undefined;
  const riskKey = p.by === 'card' ? ledger.cardKey(p.uid) : p.by === 'account' ? `account:${p.accountId}` : null;
  const balance = accountPayer !== undefined ? ledger.balance(accountPayer) : undefined;
  const withPoints = p.by === 'account' && p.withPoints === true;
  const account = accountPayer !== undefined && balance ? { ...priceAccount(d.pricing, balance.tier, usageNow(d, accountPayer), now), ...(withPoints ? { payWithPoints: true } : {}) } : undefined;
  const price = priceVend(d.pricing, {
    machine: { id: ask.machineId, kind: state.kind, program: ask.program, ...(ask.addTime ? { addTime: true, minutes: ask.addTime.minutes } : {}) },
    ...(account ? { account } : {}),
    localTime: toLocalTime(now, d.pricing.timeZone),
    loadWeightGrams: state.sensors.loadWeightGrams,
    ...(p.by === 'card' || p.by === 'account' ? { waterHardnessDh: state.sensors.waterHardnessDh } : {}),
  });
  const no = (reason: ReasonCode, extra: { alert?: VendAlert; amountCents?: number } = {}): Authorization => ({
    ok: false,
    reason,
    riskKey,
    ...(accountPayer !== undefined ? { accountId: accountPayer } : {}),
    ...extra,
  });
  if (!price.ok) return no(price.reason);

  // Add-time is not a new cycle: without a machine kind it counts as no wash in the account's usage.
  const base = { machineId: ask.machineId, ...(ask.addTime ? {} : { machineKind: state.kind }), program: ask.program, price, declineRecorded: false };
  switch (p.by) {
    case 'token':
    case 'prepaid': {
      // Paid online: the cloud took up to this much; the room's own price must fit in it.
      if (price.amountCents > p.amountCents) return no('over_amount', { amountCents: p.amountCents });
      const token = p.by === 'token' ? { tokenId: p.tokenId, expiresAt: p.expiresAt, amountCents: p.amountCents } : { tokenId: prepaidTokenId(p.commandId), expiresAt: p.expiresAtSec, amountCents: p.amountCents };
      const accountId = p.by === 'token' ? p.accountId : undefined;
      return {
        ok: true,
        riskKey,
        ctx: {
          ...base,
          method: vendMethodOf(p),
          readerId: readerOf(p),
          token,
          ...(accountId !== undefined ? { accountId } : {}),
          ...(p.by === 'prepaid' ? { holdDetail: { commandId: p.commandId, paidBy: 'prepaid' } } : {}),
        },
      };
    }
    case 'card':
    case 'account': {
      if (p.by === 'account' && balance === undefined) return no('insufficient_funds');
      // The most the app showed the user for it (add-time): the room's price may not exceed it.
      if (p.by === 'account' && p.maxCents !== undefined && price.amountCents > p.maxCents) return no('over_amount', { amountCents: p.maxCents });
      // Points: the tier must say what a point is worth; the vend then holds points, no cents
      // (a free vend costs no points either). The ledger checks the points in the hold.
      if (withPoints && price.amountCents > 0 && price.pointsCents === undefined) return no('not_allowed');
      const points = withPoints && price.amountCents > 0 ? price.pointsCents : undefined;
      const charged = points !== undefined ? { ...price, amountCents: 0 } : price;
      const card = p.by === 'card' ? ledger.lookupCard(p.uid) : undefined;
      const exposure = d.exposure(accountPayer ?? null);
      const verdict = assess(d.risk, d.riskState, {
        now,
        cardId: riskKey ?? '',
        readerId: readerOf(p),
        cardStatus: p.by === 'account' ? 'active' : card ? card.status : 'unknown',
        amountCents: charged.amountCents,
        unsyncedCardCents: exposure.accountCents,
        unsyncedRoomCents: exposure.roomCents,
        ...(balance ? { availableCents: balance.balanceCents - d.risk.funds.floorCents } : {}),
      });
      if (!verdict.allow) return no(verdict.reason, verdict.alert ? { alert: { code: verdict.alert.code, severity: 'warning', detail: verdict.alert.detail } } : {});
      return {
        ok: true,
        riskKey,
        ctx: {
          ...base,
          price: charged,
          ...(points !== undefined ? { points } : {}),
          method: vendMethodOf(p),
          readerId: readerOf(p),
          ...(p.by === 'card' ? { cardUid: p.uid, ...(p.sunCounter !== undefined ? { sunCounter: p.sunCounter } : {}) } : { holdDetail: { commandId: p.commandId, paidBy: points !== undefined ? 'points' : 'account', ...(points !== undefined ? { priceCents: price.amountCents } : {}) } }),
          ...(accountPayer !== undefined ? { accountId: accountPayer } : {}),
        },
      };
    }
  }
}
