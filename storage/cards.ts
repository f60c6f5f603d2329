// Card list: UID -> account and status. UIDs are kept only as HMAC-SHA-256(roomSecret, uid),
// so a copied database file hands out no card numbers. A list update is one transaction.
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { maskUid } from './deps.js';
import { accountIdSchema, ensureAccount } from './accounts.js';
import { META, getMetaInt, inTx, setMeta, type LedgerContext } from './context.js';
import { recordFact } from './outbox.js';

export const cardUidSchema = z
  .string()
  .regex(/^[0-9A-Fa-f]{4,32}$/, 'card UID must be hexadecimal')
  .transform((s) => s.toUpperCase());

export const cardStatusSchema = z.enum(['active', 'lost', 'blocked']);
export type CardStatus = z.infer<typeof cardStatusSchema>;

const cardEntry = z.object({
  uid: cardUidSchema,
  accountId: accountIdSchema,
  status: cardStatusSchema,
  /** Secure cards (docs/secure-cards.md): a plain UID read of this UID is a copy. */
  secure: z.boolean().optional(),
  /** The highest SUN counter the fleet has seen for it: a tap must be above it. */
  fleetCounter: z.number().int().min(0).max(0xffffff).optional(),
  /** The key version the card is encoded under: a message under an older one is refused. */
  keyVersion: z.number().int().min(1).max(1_000_000).optional(),
});
const cardRemoval = z.object({ uid: cardUidSchema, remove: z.literal(true) });

export const cardListSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('full'), version: z.number().int().positive(), cards: z.array(cardEntry) }),
  z.object({
    kind: z.literal('diff'),
    version: z.number().int().positive(),
    baseVersion: z.number().int().nonnegative(),
    cards: z.array(z.union([cardRemoval, cardEntry])),
  }),
]);
export type CardListInput = z.input<typeof cardListSchema>;

export type CardListResult =
  | { ok: true; applied: boolean; version: number; cards: number }
  | { ok: false; reason: 'stale' | 'base_mismatch' | 'bad_diff'; currentVersion: number };

export interface CardInfo {
  accountId: string;
  /** What to act on: the list's status unless an operator's local status is stricter. */
  status: CardStatus;
  listStatus: CardStatus;
  localStatus: CardStatus | null;
  listVersion: number;
  mask: string;
}

export function hashUid(roomSecret: Buffer, uid: string): Buffer {
  return createHmac('sha256', roomSecret).update(uid.toUpperCase()).digest();
}

export function cardListVersion(ctx: LedgerContext): number {
  return getMetaInt(ctx.db, META.cardListVersion);
}

export function applyCardList(ctx: LedgerContext, input: CardListInput): CardListResult {
  const list = cardListSchema.parse(input);
  return inTx(ctx.db, () => {
    const current = cardListVersion(ctx);
    // A re-delivery of what we already have is fine and changes nothing.
    if (list.version === current) return { ok: true, applied: false, version: current, cards: countCards(ctx) };
    if (list.version < current) return { ok: false, reason: 'stale', currentVersion: current };
    if (list.kind === 'diff') {
      if (list.baseVersion !== current) return { ok: false, reason: 'base_mismatch', currentVersion: current };
      if (list.version <= list.baseVersion) return { ok: false, reason: 'bad_diff', currentVersion: current };
    }
    if (list.kind === 'full') ctx.db.prepare('DELETE FROM cards').run();
    const upsert = ctx.db.prepare(
      `INSERT INTO cards (uid_hash, account_id, status, version, secure, fleet_counter, key_version) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(uid_hash) DO UPDATE SET account_id = excluded.account_id, status = excluded.status, version = excluded.version,
         secure = excluded.secure, fleet_counter = excluded.fleet_counter, key_version = excluded.key_version`,
    );
    const remove = ctx.db.prepare('DELETE FROM cards WHERE uid_hash = ?');
    for (const c of list.cards) {
      const h = hashUid(ctx.roomSecret, c.uid);
      if ('remove' in c) {
        remove.run(h);
      } else {
        ensureAccount(ctx, c.accountId);
        upsert.run(h, c.accountId, c.status, list.version, c.secure === true ? 1 : 0, c.fleetCounter ?? null, c.keyVersion ?? null);
      }
    }
    setMeta(ctx.db, META.cardListVersion, String(list.version));
    const cards = countCards(ctx);
    ctx.logger.info({ kind: list.kind, version: list.version, cards }, 'card list applied');
    return { ok: true, applied: true, version: list.version, cards };
  });
}

function countCards(ctx: LedgerContext): number {
  return (ctx.db.prepare('SELECT COUNT(*) AS n FROM cards').get() as { n: number }).n;
}

export function lookupCard(ctx: LedgerContext, uidInput: string): CardInfo | undefined {
  const uid = cardUidSchema.parse(uidInput);
  const h = hashUid(ctx.roomSecret, uid);
  const row = ctx.db
    .prepare(
      `SELECT c.account_id AS accountId, c.status AS listStatus, c.version AS listVersion, o.status AS localStatus
         FROM cards c LEFT JOIN card_overrides o ON o.uid_hash = c.uid_hash WHERE c.uid_hash = ?`,
    )
    .get(h) as { accountId: string; listStatus: CardStatus; listVersion: number; localStatus: CardStatus | null } | undefined;
  if (!row) return undefined;
  const status = row.listStatus !== 'active' ? row.listStatus : (row.localStatus ?? 'active');
  return { ...row, status, mask: maskUid(uid) };
}

/**
 * An operator's local block. 'active' lifts the local status only: a card the cloud lists as
 * lost or blocked stays so. Works for cards not on the list too (block before it arrives).
 */
export function setCardStatus(ctx: LedgerContext, uidInput: string, statusInput: CardStatus): void {
  const uid = cardUidSchema.parse(uidInput);
  const status = cardStatusSchema.parse(statusInput);
  const h = hashUid(ctx.roomSecret, uid);
  inTx(ctx.db, () => {
    if (status === 'active') {
      ctx.db.prepare('DELETE FROM card_overrides WHERE uid_hash = ?').run(h);
    } else {
      ctx.db
        .prepare(
          `INSERT INTO card_overrides (uid_hash, status, set_ms) VALUES (?, ?, ?)
           ON CONFLICT(uid_hash) DO UPDATE SET status = excluded.status, set_ms = excluded.set_ms`,
        )
        .run(h, status, Math.floor(ctx.clock.now()));
    }
    recordFact(ctx, {
      type: 'card.status',
      money: false,
      audit: { kind: 'card_status', result: status, cardMask: maskUid(uid), reason: 'operator' },
      payload: { cardMask: maskUid(uid), uidHash: h.toString('hex'), status },
    });
  });
}
