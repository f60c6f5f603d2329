// The ledger's API grouped by domain. `Ledger` is all of them over one connection; a part of the
// gateway is typed against the groups it uses (the uplink: outbox, accounts, cards, settings,
// alerts), so what it can touch is read off its signature. storage/ledger-groups.ts builds each
// group from its module.
import type * as accounts from './accounts.js';
import type { AlertInput } from './alerts.js';
import type { AuditHead, AuditRecord } from './audit.js';
import type { IntegrityResult, LedgerStats } from './backup.js';
import type * as cards from './cards.js';
import type { SelfCheckResult } from './check.js';
import type { CommandRecord } from './commands.js';
import type { LedgerVerdict, VerifyHeads } from './money-verify.js';
import type * as outbox from './outbox.js';
import type * as refundIntents from './refund-intents.js';
import type { PruneResult } from './retention.js';
import type { SecureCardFacts } from './secure-cards.js';
import type { SettingDef, SettingValue, SettingWrite } from './settings.js';
import type { AccountUsage } from './usage.js';
import type * as vends from './vends.js';
import type { WalCheckpoints } from './wal-checkpoints.js';

/** The file itself: health, copies, size, retention. */
export interface MaintenanceLedger {
  readonly path: string;
  /** Checkpoints in a worker thread, for a ledger opened with backgroundCheckpoints (start/stop them); else null. */
  readonly walCheckpoints: WalCheckpoints | null;
  close(): void;
  integrityCheck(opts?: { quick?: boolean }): IntegrityResult;
  /** Cross-table invariants (gap-free outbox, each vend's entries and audit match its state). */
  selfCheck(): SelfCheckResult;
  backup(toPath: string): Promise<{ totalPages: number }>;
  stats(): LedgerStats;
  /** Removes settled history older than beforeMs (wall ms) that the cloud holds; see retention.ts. */
  pruneHistory(opts: { beforeMs: number }): PruneResult;
}

/** Accounts: the cloud's snapshots and top-ups, derived balances, usage for pricing. */
export interface AccountsLedger {
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
}

/** The card list (UIDs kept as HMACs) and the operator's local status. */
export interface CardsLedger {
  /**
   * A stable stand-in for a card UID (HMAC with the room secret, hex) for state kept outside the
   * card table, such as the persisted risk state: the file then holds no card numbers.
   */
  cardKey(uid: string): string;
  applyCardList(list: cards.CardListInput): cards.CardListResult;
  lookupCard(uid: string): cards.CardInfo | undefined;
  setCardStatus(uid: string, status: cards.CardStatus): void;
  cardListVersion(): number;
}

/** Secure cards (NTAG 424 DNA): what the decision reads; the counter is spent by a hold or decline. */
export interface SecureCardsLedger {
  /**
   * What the secure-card decision needs about one UID: the list's secure flag, fleet counter and
   * key version, and the highest SUN counter this room accepted. A counter is spent only by a
   * hold or decline that carries `sunCounter`, in its own transaction (docs/secure-cards.md).
   */
  secureCardFacts(uid: string): SecureCardFacts;
  /** Secure UIDs the room holds a SUN counter for. */
  sunCounterCount(): number;
}

/** Vends: hold → credit sent → capture / refund, declines, refunds of captured vends, exposure. */
export interface VendsLedger {
  hold(input: vends.HoldInput): vends.HoldResult;
  markCreditSent(vendId: string, evidence: unknown): vends.StepResult;
  /** `also`: a setting the vend changed (the risk state), stored in the capture's transaction. */
  capture<T>(vendId: string, details?: vends.CaptureInput, also?: SettingWrite<T>): vends.StepResult;
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
}

/** Used QR token ids (claimed inside the hold's transaction). */
export interface TokensLedger {
  isTokenUsed(tokenId: string): boolean;
  pruneUsedTokens(nowSec: number, skewSec: number): number;
}

/** The audit trail, the money chain and the heads the cloud holds. */
export interface AuditLedger {
  /**
   * The audit trail's hash chain, every money row against the money chain, and the heads the
   * cloud acknowledged (plus any given) still in both chains (storage/money-verify.ts).
   */
  verifyAudit(heads?: VerifyHeads): LedgerVerdict;
  auditHead(): AuditHead;
  /** The money chain's head (storage/money-chain.ts), sent upstream with every batch. */
  moneyHead(): AuditHead;
  readAudit(fromSeq: number, limit: number): AuditRecord[];
  /** A machine command that is not a vend, with what it did to money (storage/commands.ts). */
  recordCommand(command: CommandRecord): { auditSeq: number };
}

/** Alerts: an audit record and an outbox record, for the operator and the cloud. */
export interface AlertsLedger {
  appendAlert(alert: AlertInput): { auditSeq: number };
}

/**
 * Settings: typed values (each declared once with its schema by the part that owns it, see
 * `defineSetting`) and the time floor. A value written unchanged is not written again.
 */
export interface SettingsLedger {
  /** The stored value checked by the setting's schema; `missing` or `unreadable` (with why) instead of a throw. */
  readSetting<T>(setting: SettingDef<T>): SettingValue<T>;
  /** Checks the value with the setting's schema (a bad one throws, nothing is written) and stores it. */
  writeSetting<T>(setting: SettingDef<T>, value: T): void;
  timeFloorMs(): number;
  /** Only ever moves forward: a clock that went back must not drag the floor with it. */
  raiseTimeFloor(ms: number): number;
}

/**
 * Free-form strings and numbers under any key: operators, counters, the engine's write probe.
 * A feature's structured state is a typed setting (SettingsLedger), never JSON in here.
 */
export interface KeyValueLedger {
  getSetting(key: string): string | undefined;
  setSetting(key: string, value: string): void;
  getNumberSetting(key: string): number | undefined;
  setNumberSetting(key: string, value: number): void;
  incrementSetting(key: string, delta?: number): number;
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

/** The transactional outbox: what goes upstream, in order, and whose records they are. */
export interface OutboxLedger {
  readonly gatewayId: string;
  readonly outbox: LedgerOutbox;
  /** A non-money event (`machine_state`, `remote_command`) queued upstream in its own transaction. */
  enqueueEvent(type: string, payload: unknown): { seq: number; id: string };
  /**
   * A non-money event written with the next transaction, or alone within `delayMs` (default 2 s,
   * at most an hour), or at close (storage/events-along.ts): no fsync'd commit of its own. A
   * crash may lose those still waiting: for status history only. Type and payload are checked
   * here and now.
   */
  enqueueEventAlong(type: string, payload: unknown, delayMs?: number): void;
  /** Writes the events waiting to ride along now, in one commit of their own (a clean stop's close does it too). */
  flushEventsAlong(): void;
}

/** The whole ledger over one connection (one writer): every group above. */
export interface Ledger
  extends MaintenanceLedger,
    AccountsLedger,
    CardsLedger,
    SecureCardsLedger,
    VendsLedger,
    TokensLedger,
    AuditLedger,
    AlertsLedger,
    SettingsLedger,
    KeyValueLedger,
    OutboxLedger {}
