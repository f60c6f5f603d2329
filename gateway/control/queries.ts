// The ledger-only answers (transactions, outbox, audit, cards, ledger summary), computed the same
// way from the daemon's open ledger and from the CLI's read-only copy, so the output of a command
// does not depend on whether the daemon happened to be running.
import { maskUid } from '../core/log.js';
import type { VerifyHeads } from '../../storage/index.js';
import type { LedgerReader } from '../../storage/readonly.js';
import type { AuditResult, CardResult, OutboxResult, StatusResult, TxResult } from './protocol.js';

export type { LedgerReader };

export function txResult(ledger: LedgerReader, limit: number): TxResult {
  return {
    vends: ledger.recentVends(limit).map((v) => ({
      vendId: v.vendId,
      createdMs: v.createdMs,
      method: v.method,
      funding: v.funding,
      machineId: v.machineId,
      program: v.program,
      accountId: v.accountId,
      cardMask: v.cardMask,
      amountCents: v.amountCents,
      state: v.state,
      capturedCents: v.capturedCents,
      refundedCents: v.refundedCents,
      finishReason: v.finishReason,
    })),
  };
}

export function outboxResult(ledger: LedgerReader, deadLetters: number): OutboxResult {
  return {
    stats: ledger.outbox.stats(),
    // Payloads stay out: the CLI shows what and why, the cloud side has the records.
    deadLetters: deadLetters === 0 ? [] : ledger.outbox.deadLetters(deadLetters).map((d) => ({ seq: d.seq, type: d.type, reason: d.reason, deadMs: d.deadMs })),
  };
}

/** heads: the cloud's audit and money heads to prove besides the acknowledged ones. */
export function auditResult(ledger: LedgerReader, heads: VerifyHeads = {}): AuditResult {
  return ledger.verifyAudit(heads);
}

/** The UID is masked in the answer: it may end up pasted in a ticket. */
export function cardResult(ledger: LedgerReader, uid: string): CardResult {
  const mask = maskUid(uid.toUpperCase());
  const card = ledger.lookupCard(uid);
  if (card === undefined) {
    return { mask, found: false, accountId: null, status: null, listStatus: null, localStatus: null, listVersion: null, balance: null };
  }
  const b = ledger.balance(card.accountId);
  return {
    mask,
    found: true,
    accountId: card.accountId,
    status: card.status,
    listStatus: card.listStatus,
    localStatus: card.localStatus,
    listVersion: card.listVersion,
    balance: b === undefined ? null : { balanceCents: b.balanceCents, points: b.points, tier: b.tier, pendingEntries: b.pendingEntries },
  };
}

export function ledgerSummary(ledger: LedgerReader): StatusResult['ledger'] {
  const s = ledger.stats();
  return {
    path: ledger.path,
    fileBytes: s.fileBytes,
    walBytes: s.walBytes,
    vends: s.vends,
    unfinishedVends: s.unfinishedVends,
    auditRecords: s.auditRecords,
    cards: s.cards,
    auditHead: ledger.auditHead(),
  };
}
