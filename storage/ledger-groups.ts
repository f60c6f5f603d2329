// Each group of the ledger's API (storage/ledger-types.ts) built from its module over one
// context; openLedger composes them. Inputs from outside are parsed at this edge or in the module.
import * as accounts from './accounts.js';
import { appendAlert } from './alerts.js';
import { auditHead, readAudit } from './audit.js';
import { backup, integrityCheck, ledgerStats } from './backup.js';
import * as cards from './cards.js';
import { selfCheck } from './check.js';
import { recordCommand } from './commands.js';
import { onOutboxCommitted, type LedgerContext } from './context.js';
import type {
  AccountsLedger,
  AlertsLedger,
  AuditLedger,
  CardsLedger,
  KeyValueLedger,
  MaintenanceLedger,
  OutboxLedger,
  SecureCardsLedger,
  SettingsLedger,
  TokensLedger,
  VendsLedger,
} from './ledger-types.js';
import { moneyHead } from './money-chain.js';
import { verifyLedger } from './money-verify.js';
import type { EventsAlong } from './events-along.js';
import * as outbox from './outbox.js';
import * as refundIntents from './refund-intents.js';
import { pruneHistory } from './retention.js';
import * as secureCards from './secure-cards.js';
import * as settings from './settings.js';
import * as tokens from './tokens.js';
import { accountUsage, accountUsagePlan } from './usage.js';
import * as vends from './vends.js';
import type { WalCheckpoints } from './wal-checkpoints.js';

export function maintenanceGroup(ctx: LedgerContext, path: string, walCheckpoints: WalCheckpoints | null = null, along: EventsAlong | null = null): MaintenanceLedger {
  return {
    path,
    walCheckpoints,
    close: () => {
      along?.close();
      if (ctx.db.open) ctx.db.close();
      walCheckpoints?.release();
    },
    integrityCheck: (opts) => integrityCheck(ctx, opts),
    selfCheck: () => selfCheck(ctx.db),
    backup: (toPath) => backup(ctx, toPath),
    stats: () => ledgerStats(ctx),
    pruneHistory: (o) => pruneHistory(ctx, o),
  };
}

export function accountsGroup(ctx: LedgerContext): AccountsLedger {
  return {
    applyAccountSnapshot: (s) => accounts.applyAccountSnapshot(ctx, s),
    applyTopUp: (t) => accounts.applyTopUp(ctx, t),
    applyAccountSnapshots: (l) => accounts.applyAccountSnapshots(ctx, l),
    applyTopUps: (l) => accounts.applyTopUps(ctx, l),
    balance: (id) => accounts.balance(ctx, accounts.accountIdSchema.parse(id)),
    accountUsage: (id, u) => accountUsage(ctx, accounts.accountIdSchema.parse(id), u),
    accountUsagePlan: () => accountUsagePlan(ctx),
  };
}

export function cardsGroup(ctx: LedgerContext): CardsLedger {
  return {
    cardKey: (uid) => cards.hashUid(ctx.roomSecret, uid).toString('hex').slice(0, 32),
    applyCardList: (l) => cards.applyCardList(ctx, l),
    lookupCard: (uid) => cards.lookupCard(ctx, uid),
    setCardStatus: (uid, st) => cards.setCardStatus(ctx, uid, st),
    cardListVersion: () => cards.cardListVersion(ctx),
  };
}

export function secureCardsGroup(ctx: LedgerContext): SecureCardsLedger {
  return {
    secureCardFacts: (uid) => secureCards.secureCardFacts(ctx, cards.cardUidSchema.parse(uid)),
    sunCounterCount: () => secureCards.sunCounterCount(ctx),
  };
}

export function vendsGroup(ctx: LedgerContext): VendsLedger {
  return {
    hold: (i) => vends.hold(ctx, i),
    markCreditSent: (id, ev) => vends.markCreditSent(ctx, id, ev),
    capture: (id, d, also) => vends.capture(ctx, id, d, also),
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
  };
}

export function tokensGroup(ctx: LedgerContext): TokensLedger {
  return {
    isTokenUsed: (id) => tokens.isTokenUsed(ctx, id),
    pruneUsedTokens: (now, skew) => tokens.pruneUsedTokens(ctx, now, skew),
  };
}

export function auditGroup(ctx: LedgerContext): AuditLedger {
  return {
    verifyAudit: (heads) => verifyLedger(ctx.db, ctx.gatewayId, heads),
    auditHead: () => auditHead(ctx),
    moneyHead: () => moneyHead(ctx.db, ctx.gatewayId),
    readAudit: (from, limit) => readAudit(ctx.db, from, limit),
    recordCommand: (c) => recordCommand(ctx, c),
  };
}

export function alertsGroup(ctx: LedgerContext): AlertsLedger {
  return { appendAlert: (a) => appendAlert(ctx, a) };
}

export function settingsGroup(ctx: LedgerContext): SettingsLedger {
  return {
    readSetting: (s) => settings.readSetting(ctx, s),
    writeSetting: (s, v) => settings.writeSetting(ctx, s, v),
    timeFloorMs: () => settings.timeFloorMs(ctx),
    raiseTimeFloor: (ms) => settings.raiseTimeFloor(ctx, ms),
  };
}

export function keyValueGroup(ctx: LedgerContext): KeyValueLedger {
  return {
    getSetting: (k) => settings.getSetting(ctx, k),
    setSetting: (k, v) => settings.setSetting(ctx, k, v),
    getNumberSetting: (k) => settings.getNumberSetting(ctx, k),
    setNumberSetting: (k, v) => settings.setNumberSetting(ctx, k, v),
    incrementSetting: (k, d) => settings.incrementSetting(ctx, k, d),
  };
}

export function outboxGroup(ctx: LedgerContext, along: EventsAlong | null = null): OutboxLedger {
  return {
    gatewayId: ctx.gatewayId,
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
    // Without the rider (the read-only view), alone: as enqueueEvent.
    enqueueEventAlong: (type, payload, delayMs) => (along === null ? void outbox.enqueueEvent(ctx, type, payload) : along.add(type, payload, delayMs)),
    flushEventsAlong: () => along?.flush(),
  };
}
