// The ledger's public face: openLedger() returns one object over one connection (one writer),
// composed of the domain groups of storage/ledger-types.ts, each built from its module.
// Its API speaks the domain (hold, capture, refund, top-up, enqueue, ack); no SQL leaves storage/.
import { z } from 'zod';
import type { Clock, Logger } from './deps.js';
import { META, getMeta, inTx, type LedgerContext } from './context.js';
import { openDatabase } from './db.js';
import { accountsGroup, alertsGroup, auditGroup, cardsGroup, keyValueGroup, maintenanceGroup, outboxGroup, secureCardsGroup, settingsGroup, tokensGroup, vendsGroup } from './ledger-groups.js';
import type { Ledger } from './ledger-types.js';
import { chainExistingMoneyRows } from './money-chain.js';
import { timeFloorMs } from './settings.js';
import { EventsAlong } from './events-along.js';
import { WalCheckpoints, type WalCheckpointOptions } from './wal-checkpoints.js';
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
export type * from './ledger-types.js';
export { defineSetting, settingOrUndefined, type SettingDef, type SettingValue, type SettingWrite } from './settings.js';
export { hashUid } from './cards.js';
export { WriteFaults, type SqliteFaultCode, type WriteFaultRule } from './write-faults.js';
export { WalCheckpoints, type WalCheckpointOptions, type WalState } from './wal-checkpoints.js';

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
  /**
   * The daemon's: no checkpoint inside a commit (wal_autocheckpoint=0); `ledger.walCheckpoints`
   * runs them in a worker thread once started (storage/wal-checkpoints.ts). Absent: SQLite's own.
   * Without `thresholdFrames`, a checkpoint starts once CHECKPOINT_WAL_BYTES of WAL wait.
   */
  backgroundCheckpoints?: WalCheckpointOptions;
}

/**
 * WAL that waits before a background checkpoint copies it into ledger.db: 8 MiB, ~8 000 frames
 * of 1 KiB pages, ~160 card vends (~2.5 days of a 16-machine room at 4 cycles each). A
 * checkpoint copies each page once however many commits rewrote it, and every vend rewrites the
 * same hot pages (page 1, meta, the right edges of the tables and indexes it appends to, the
 * tally): SQLite's 1 000 frames copied them every ~20 vends, ~18 kB of SD card writes a vend;
 * every ~160 vends, ~9 kB (docs/performance.md section 7). The cost: the WAL file stays up to
 * ~8 MiB (+64 KiB of -shm), and a start after a crash reads it whole to rebuild its index
 * (~25 ms here from the page cache; ~0.5 s from a Pi's SD card at ~20 MB/s). A drain's acks
 * reach it within seconds, as they reached 1 000 frames in one.
 */
export const CHECKPOINT_WAL_BYTES = 8 * 1024 * 1024;

/** Frames of a WAL of this page size (each frame is a 24-byte header and a page) in `bytes`. */
export function walFramesIn(bytes: number, pageSize: number): number {
  return Math.max(1, Math.floor(bytes / (pageSize + 24)));
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
    clockTrusted: opts.clockTrusted ?? (() => opts.clock.now() >= timeFloorMs(ctx)),
  };
  let walCheckpoints: WalCheckpoints | null = null;
  let checkpointFrames: number | null = null;
  if (opts.backgroundCheckpoints !== undefined) {
    raw.pragma('wal_autocheckpoint = 0');
    checkpointFrames = opts.backgroundCheckpoints.thresholdFrames ?? walFramesIn(CHECKPOINT_WAL_BYTES, Number(raw.pragma('page_size', { simple: true })));
    walCheckpoints = new WalCheckpoints(raw, o.path, logger, { ...opts.backgroundCheckpoints, thresholdFrames: checkpointFrames });
  }
  // backgroundCheckpoints: the WAL frames that start one, or false (SQLite's own, in the commit).
  logger.info({ path: o.path, gatewayId: o.gatewayId, backgroundCheckpoints: checkpointFrames ?? false }, 'ledger open');
  // Once after migration 13: the money rows the ledger already held join the money chain.
  if (getMeta(raw, META.moneyChainPending) !== undefined) inTx(raw, () => chainExistingMoneyRows({ ...ctx, db: raw }));

  const along = new EventsAlong(ctx);
  const ledger: Ledger = {
    ...maintenanceGroup(ctx, o.path, walCheckpoints, along),
    ...accountsGroup(ctx),
    ...cardsGroup(ctx),
    ...secureCardsGroup(ctx),
    ...vendsGroup(ctx),
    ...tokensGroup(ctx),
    ...auditGroup(ctx),
    ...alertsGroup(ctx),
    ...settingsGroup(ctx),
    ...keyValueGroup(ctx),
    ...outboxGroup(ctx, along),
  };
  return opts.writeFaults ? bracketOps(ledger, opts.writeFaults) : ledger;
}
