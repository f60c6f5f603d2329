// Secure cards in the ledger: what the card list says about a UID (secure, the fleet's highest
// SUN counter, the key version) and the highest counter this room has accepted for it. The
// counter is spent by `spendSunCounter` INSIDE the transaction of the vend's hold or decline
// (storage/vends.ts calls it when a hold or decline carries `sunCounter`): the check and the
// write are one compare-and-set under the write lock, so neither a crash, a restart, a power cut
// nor two readers at once can let one SUN message pay twice. UIDs only as HMAC(roomSecret, uid).
import { z } from 'zod';
import { hashUid } from './cards.js';
import type { LedgerContext } from './context.js';

/** A SUN read counter: 3 bytes on the card. */
export const sunCounterSchema = z.number().int().min(0).max(0xffffff);
/** A key version named by the card list or the key file. */
export const keyVersionSchema = z.number().int().min(1).max(1_000_000);

export interface SecureCardFacts {
  /** The card list's entry; null when the UID is not listed. */
  listed: { secure: boolean; fleetCounter: number | null; keyVersion: number | null } | null;
  /** The highest counter this room has accepted for the UID; null when never. */
  roomCounter: number | null;
}

interface ListedRow {
  secure: number;
  fleetCounter: number | null;
  keyVersion: number | null;
}

/** What the decision (gateway/secure-cards/decide.ts) needs to know about one UID. */
export function secureCardFacts(ctx: LedgerContext, uid: string): SecureCardFacts {
  const h = hashUid(ctx.roomSecret, uid);
  const listed = ctx.db.prepare('SELECT secure, fleet_counter AS fleetCounter, key_version AS keyVersion FROM cards WHERE uid_hash = ?').get(h) as ListedRow | undefined;
  const room = ctx.db.prepare('SELECT counter FROM sun_counters WHERE uid_hash = ?').get(h) as { counter: number } | undefined;
  return {
    listed: listed ? { secure: listed.secure === 1, fleetCounter: listed.fleetCounter, keyVersion: listed.keyVersion } : null,
    roomCounter: room?.counter ?? null,
  };
}

/**
 * Spends `counter` for `uid` if it is above both the room's highest and the card list's: true
 * when spent, false when it is a replay (nothing written). Must run inside the caller's write
 * transaction (inTx), with the hold or decline it belongs to; it opens none itself.
 */
export function spendSunCounter(ctx: LedgerContext, uid: string, counterInput: number): boolean {
  if (!ctx.db.inTransaction) throw new Error('ledger: a SUN counter is spent only inside the hold or decline transaction');
  const counter = sunCounterSchema.parse(counterInput);
  const h = hashUid(ctx.roomSecret, uid);
  const fleet = ctx.db.prepare('SELECT fleet_counter AS c FROM cards WHERE uid_hash = ?').get(h) as { c: number | null } | undefined;
  if (fleet !== undefined && fleet.c !== null && counter <= fleet.c) return false;
  const r = ctx.db
    .prepare(
      `INSERT INTO sun_counters (uid_hash, counter, updated_ms) VALUES (?, ?, ?)
       ON CONFLICT(uid_hash) DO UPDATE SET counter = excluded.counter, updated_ms = excluded.updated_ms
       WHERE excluded.counter > sun_counters.counter`,
    )
    .run(h, counter, Math.floor(ctx.clock.now()));
  return r.changes === 1;
}

/** How many secure UIDs the room holds a counter for (status, doctor). */
export function sunCounterCount(ctx: LedgerContext): number {
  return (ctx.db.prepare('SELECT COUNT(*) AS n FROM sun_counters').get() as { n: number }).n;
}
