// The ledger's public face: openLedger() returns one object over one connection (one writer).
// Its API speaks the domain (hold, capture, refund, top-up, enqueue, ack); no SQL leaves storage/.
import { z } from 'zod';
import type { Clock, Logger } from './deps.js';
import * as accounts from './accounts.js';
import { appendAlert, type AlertInput } from './alerts.js';
import { auditHead, readAudit, type AuditHead, type AuditRecord } from './audit.js';
import { backup, integrityCheck, ledgerStats, type IntegrityResult, type LedgerStats } from './backup.js';
import * as cards from './cards.js';
import { recordCommand, type CommandRecord } from './commands.js';
import { selfCheck, type SelfCheckResult } from './check.js';
import { META, getMeta, inTx, onOutboxCommitted, type LedgerContext } from './context.js';
import { openDatabase } from './db.js';
import { chainExistingMoneyRows, moneyHead } from './money-chain.js';
import { verifyLedger, type LedgerVerdict, type VerifyHeads } from './money-verify.js';
import * as outbox from './outbox.js';
import { pruneHistory, type PruneResult } from './retention.js';
import * as refundIntents from './refund-intents.js';
import * as secureCards from './secure-cards.js';
import * as settings from './settings.js';
import type { SettingDef, SettingValue } from './settings.js';
import * as tokens from './tokens.js';
import { accountUsage, accountUsagePlan, type AccountUsage } from './usage.js';
import * as vends from './vends.js';
import { bracketOps, withWriteFaults, type WriteFaults } from './write-faults.js';

export type { AccountBalance, AccountSnapshot, TopUp } from './accounts.js';
export type { AccountUsage } from './usage.js';
export type { AlertInput } from './alerts.js';
export type { CommandRecord } from './commands.js';
export type { AuditHead, AuditRecord, AuditVerdict } from './audit.js';
export type { AnchorCheck, LedgerVerdict, MoneySummary, VerifyHeads } from './money-verify.js';
export type { IntegrityResult, LedgerStats } from './backup.js';
export type { SelfCheckResult } from './check.js';
export type { PruneResult } from './retention.js';
export type { CardInfo, CardListInput, CardListResult, CardStatus } from './cards.js';
export type { SecureCardFacts } from './secure-cards.js';
export type { IntentSettlement, RefundIntent, RefundIntentInput } from './refund-intents.js';
export type { AckedHeads, BatchReadOptions, DeadLetter, OutboxBatch, OutboxBatchJson, OutboxBatchText, OutboxRecord, OutboxRecordJson, OutboxStats } from './outbox.js';
export type { CapturedRefundInput, CapturedRefundResult, CaptureInput, DeclineInput, Funding, HoldInput, HoldResult, RefundInput, StepResult, VendMethod, VendRecord, VendState } from './vends.js';
export { defineSetting, settingOrUndefined, type SettingDef, type SettingValue } from './settings.js';
export { hashUid } from './cards.js';
export { WriteFaults, type SqliteFaultCode, type WriteFaultRule } from './write-faults.js';

export interface OpenLedgerOptions {
  path: string;
  /** Key of the card UID HMAC; at least 16 bytes. Never logged. */
  roomSecret: Buffer;
  gatewayId: string;
  /** A fresh id per daemon start: monotonic times are only comparable within one boot. */
  bootId: string;
  clock: Clock;
  logger: Logger;
  busyTimeoutMs?: number;
  /** Whether the wall clock is trustworthy right now; default: it is not behind the time floor. */
  clockTrusted?: () => boolean;
  /** Tests only: makes chosen writes throw as SQLite does (storage/write-faults.ts). Absent: the bare connection. */
  writeFaults?: WriteFaults;
}

export interface LedgerOutbox {
  nextBatch(opts: outbox.BatchReadOptions): outbox.OutboxBatch;
  /** nextBatch with each payload as its stored JSON text (the uplink copies it verbatim). */
  nextBatchJson(opts: outbox.BatchReadOptions): outbox.OutboxBatchJson;
  /** The same selection serialized by SQLite: the records as JSON text (the uplink's backlog path). */
  nextBatchText(opts: outbox.BatchReadOptions): outbox.OutboxBatchText;
  /** heads: the audit and money heads the cloud's ack says it holds (stored as the anchors verify proves). */
  ack(upToSeq: number, heads?: outbox.AckedHeads): { retired: number; ackedSeq: number };
  deadLetter(seqs: readonly number[], reason: string): { moved: number[]; alertSeq: number | null };
  stats(): outbox.OutboxStats;
  deadLetters(limit: number): outbox.DeadLetter[];
  /**
   * Calls listener (synchronously, right after the commit) whenever a transaction that appended
   * outbox records has committed; a listener's throw is logged, never thrown into the writer.
   * Returns the unsubscribe.
   */
  onCommitted(listener: () => void): () => void;
}

export interface Ledger {
  readonly path: string;
  readonly gatewayId: string;
  close(): void;
  integrityCheck(opts?: { quick?: boolean }): IntegrityResult;
  /** Cross-table invariants (gap-free outbox, each vend's entries and audit match its state). */
  selfCheck(): SelfCheckResult;
  backup(toPath: string): Promise<{ totalPages: number }>;
  stats(): LedgerStats;
  /** Removes settled history older than beforeMs (wall ms) that the cloud holds; see retention.ts. */
  pruneHistory(opts: { beforeMs: number }): PruneResult;

  applyAccountSnapshot(snapshot: accounts.AccountSnapshot): accounts.ApplyResult;
  applyTopUp(topUp: accounts.TopUp): accounts.ApplyResult;
  /** A downlink message's snapshots or top-ups, all or nothing in one transaction. */
  applyAccountSnapshots(list: readonly accounts.AccountSnapshot[]): accounts.MessageResult;
  applyTopUps(list: readonly accounts.TopUp[]): accounts.MessageResult;
  balance(accountId: string): accounts.AccountBalance | undefined;
  /** Captured vends of the account for pricing (storage/usage.ts says what counts); monthStartMs: the room's local month start. */
  accountUsage(accountId: string, opts: { monthStartMs: number }): AccountUsage;
  /** EXPLAIN QUERY PLAN of accountUsage, for tests and the doctor. */
  accountUsagePlan(): string[];
  /**
   * A stable stand-in for a card UID (HMAC with the room secret, hex) for state kept outside the
   * card table, such as the persisted risk state: the file then holds no card numbers.
   */
  cardKey(uid: string): string;

  applyCardList(list: cards.CardListInput): cards.CardListResult;
  lookupCard(uid: string): cards.CardInfo | undefined;
  setCardStatus(uid: string, status: cards.CardStatus): void;
  cardListVersion(): number;
  /**
   * What the secure-card decision needs about one UID: the list's secure flag, fleet counter and
   * key version, and the highest SUN counter this room accepted. A counter is spent only by a
   * hold or decline that carries `sunCounter`, in its own transaction (docs/secure-cards.md).
   */
  secureCardFacts(uid: string): secureCards.SecureCardFacts;
  /** Secure UIDs the room holds a SUN counter for. */
  sunCounterCount(): number;

  hold(input: vends.HoldInput): vends.HoldResult;
  markCreditSent(vendId: string, evidence: unknown): vends.StepResult;
  capture(vendId: string, details?: vends.CaptureInput): vends.StepResult;
  refund(vendId: string, details: vends.RefundInput): vends.StepResult;
  /** Part of a captured vend back (a fault cut its cycle short): at most once, at most what was captured. */
  refundCaptured(vendId: string, details: vends.CapturedRefundInput): vends.CapturedRefundResult;
  capturedRefundOf(vendId: string): number | null;
  capturedPointsOf(vendId: string): { points: number; refundedPoints: number };
  /** A refund planned before its command goes to the machine (an app cancel): storage/refund-intents.ts. */
  openRefundIntent(intent: refundIntents.RefundIntentInput): boolean;
  openRefundIntents(): refundIntents.RefundIntent[];
  /** The refund (when the command ran), the command's audit record and the intent's removal, in one transaction. */
  settleRefundIntent(intentId: string, s: refundIntents.IntentSettlement): { found: boolean; refund: vends.CapturedRefundResult | null };
  recordDecline(input: vends.DeclineInput): { auditSeq: number };
  getVend(vendId: string): vends.VendRecord | undefined;
  unfinishedVends(): vends.VendRecord[];
  recentVends(n: number): vends.VendRecord[];
  /** Cents of account-funded vends the cloud has not acknowledged: for one account and the room. */
  unsyncedExposure(accountId: string | null): { accountCents: number; roomCents: number };

  /**
   * The audit trail's hash chain, every money row against the money chain, and the heads the
   * cloud acknowledged (plus any given) still in both chains (storage/money-verify.ts).
   */
  verifyAudit(heads?: VerifyHeads): LedgerVerdict;
  auditHead(): AuditHead;
  /** The money chain's head (storage/money-chain.ts), sent upstream with every batch. */
  moneyHead(): AuditHead;
  readAudit(fromSeq: number, limit: number): AuditRecord[];
  appendAlert(alert: AlertInput): { auditSeq: number };
  /** A machine command that is not a vend, with what it did to money (storage/commands.ts). */
  recordCommand(command: CommandRecord): { auditSeq: number };

  /** A typed setting (declared once with its schema: defineSetting): `missing` or `unreadable` (with why) instead of a throw. */
  readSetting<T>(setting: SettingDef<T>): SettingValue<T>;
  /** Checks the value with the setting's schema (a bad one throws, nothing is written) and stores it. */
  writeSetting<T>(setting: SettingDef<T>, value: T): void;
  /** Free-form strings and numbers (operators, counters, the engine's write probe); structured state is a typed setting. */
  getSetting(key: string): string | undefined;
  setSetting(key: string, value: string): void;
  getNumberSetting(key: string): number | undefined;
  setNumberSetting(key: string, value: number): void;
  incrementSetting(key: string, delta?: number): number;
  timeFloorMs(): number;
  raiseTimeFloor(ms: number): number;

  isTokenUsed(tokenId: string): boolean;
  pruneUsedTokens(nowSec: number, skewSec: number): number;

  readonly outbox: LedgerOutbox;
  enqueueEvent(type: string, payload: unknown): { seq: number; id: string };
}

const optionsSchema = z.object({
  path: z.string().min(1),
  gatewayId: z.string().min(1).max(128),
  bootId: z.string().min(1).max(128),
  busyTimeoutMs: z.number().int().nonnegative().optional(),
});

export function openLedger(opts: OpenLedgerOptions): Ledger {
  const o = optionsSchema.parse({ path: opts.path, gatewayId: opts.gatewayId, bootId: opts.bootId, busyTimeoutMs: opts.busyTimeoutMs });
  if (!Buffer.isBuffer(opts.roomSecret) || opts.roomSecret.length < 16) throw new Error('ledger: roomSecret must be a Buffer of at least 16 bytes');
  const logger = opts.logger.child({ component: 'ledger' });
  const raw = openDatabase({ path: o.path, logger, busyTimeoutMs: o.busyTimeoutMs });
  const db = opts.writeFaults ? withWriteFaults(raw, opts.writeFaults) : raw;
  const ctx: LedgerContext = {
    db,
    clock: opts.clock,
    logger,
    gatewayId: o.gatewayId,
    bootId: o.bootId,
    roomSecret: Buffer.from(opts.roomSecret),
    clockTrusted: opts.clockTrusted ?? (() => opts.clock.now() >= settings.timeFloorMs(ctx)),
  };
  logger.info({ path: o.path, gatewayId: o.gatewayId }, 'ledger open');
  // Once after migration 13: the money rows the ledger already held join the money chain.
  if (getMeta(raw, META.moneyChainPending) !== undefined) inTx(raw, () => chainExistingMoneyRows({ ...ctx, db: raw }));

  const ledger: Ledger = {
    path: o.path,
    gatewayId: o.gatewayId,
    close: () => {
      if (db.open) db.close();
    },
    integrityCheck: (opts) => integrityCheck(ctx, opts),
    selfCheck: () => selfCheck(db),
    backup: (toPath) => backup(ctx, toPath),
    stats: () => ledgerStats(ctx),
    pruneHistory: (o) => pruneHistory(ctx, o),

    applyAccountSnapshot: (s) => accounts.applyAccountSnapshot(ctx, s),
    applyTopUp: (t) => accounts.applyTopUp(ctx, t),
    applyAccountSnapshots: (l) => accounts.applyAccountSnapshots(ctx, l),
    applyTopUps: (l) => accounts.applyTopUps(ctx, l),
    balance: (id) => accounts.balance(ctx, accounts.accountIdSchema.parse(id)),
    accountUsage: (id, u) => accountUsage(ctx, accounts.accountIdSchema.parse(id), u),
    accountUsagePlan: () => accountUsagePlan(ctx),
    cardKey: (uid) => cards.hashUid(ctx.roomSecret, uid).toString('hex').slice(0, 32),

    applyCardList: (l) => cards.applyCardList(ctx, l),
    lookupCard: (uid) => cards.lookupCard(ctx, uid),
    setCardStatus: (uid, st) => cards.setCardStatus(ctx, uid, st),
    cardListVersion: () => cards.cardListVersion(ctx),
    secureCardFacts: (uid) => secureCards.secureCardFacts(ctx, cards.cardUidSchema.parse(uid)),
    sunCounterCount: () => secureCards.sunCounterCount(ctx),

    hold: (i) => vends.hold(ctx, i),
    markCreditSent: (id, ev) => vends.markCreditSent(ctx, id, ev),
    capture: (id, d) => vends.capture(ctx, id, d),
    refund: (id, d) => vends.refund(ctx, id, d),
    refundCaptured: (id, d) => vends.refundCaptured(ctx, id, d),
    capturedRefundOf: (id) => vends.capturedRefundOf(ctx, id),
    capturedPointsOf: (id) => vends.capturedPointsOf(ctx, id),
    openRefundIntent: (i) => refundIntents.openRefundIntent(ctx, i),
    openRefundIntents: () => refundIntents.openRefundIntents(ctx),
    settleRefundIntent: (id, s) => refundIntents.settleRefundIntent(ctx, id, s),
    recordDecline: (i) => vends.recordDecline(ctx, i),
    getVend: (id) => vends.getVend(ctx, id),
    unfinishedVends: () => vends.unfinishedVends(ctx),
    recentVends: (n) => vends.recentVends(ctx, n),
    unsyncedExposure: (id) => vends.unsyncedExposure(ctx, id),

    verifyAudit: (heads) => verifyLedger(db, o.gatewayId, heads),
    auditHead: () => auditHead(ctx),
    moneyHead: () => moneyHead(db, o.gatewayId),
    readAudit: (from, limit) => readAudit(db, from, limit),
    appendAlert: (a) => appendAlert(ctx, a),
    recordCommand: (c) => recordCommand(ctx, c),

    readSetting: (s) => settings.readSetting(ctx, s),
    writeSetting: (s, v) => settings.writeSetting(ctx, s, v),
    getSetting: (k) => settings.getSetting(ctx, k),
    setSetting: (k, v) => settings.setSetting(ctx, k, v),
    getNumberSetting: (k) => settings.getNumberSetting(ctx, k),
    setNumberSetting: (k, v) => settings.setNumberSetting(ctx, k, v),
    incrementSetting: (k, d) => settings.incrementSetting(ctx, k, d),
    timeFloorMs: () => settings.timeFloorMs(ctx),
    raiseTimeFloor: (ms) => settings.raiseTimeFloor(ctx, ms),

    isTokenUsed: (id) => tokens.isTokenUsed(ctx, id),
    pruneUsedTokens: (now, skew) => tokens.pruneUsedTokens(ctx, now, skew),

    outbox: {
      nextBatch: (b) => outbox.nextBatch(ctx, b),
      nextBatchJson: (b) => outbox.nextBatchJson(ctx, b),
      nextBatchText: (b) => outbox.nextBatchText(ctx, b),
      ack: (seq, heads) => outbox.ack(ctx, seq, heads),
      deadLetter: (seqs, reason) => outbox.deadLetter(ctx, seqs, reason),
      stats: () => outbox.outboxStats(ctx),
      deadLetters: (limit) => outbox.listDeadLetters(ctx, limit),
      onCommitted: (listener) =>
        onOutboxCommitted(ctx.db, () => {
          try {
            listener();
          } catch (e) {
            ctx.logger.error({ err: e instanceof Error ? e.message : String(e) }, 'outbox commit listener threw');
          }
        }),
    },
    enqueueEvent: (type, payload) => outbox.enqueueEvent(ctx, type, payload),
  };
  return opts.writeFaults ? bracketOps(ledger, opts.writeFaults) : ledger;
}
