// Used QR token ids. An id is inserted in the hold transaction of the vend it pays for (see
// vends.ts), so a second use fails in the same transaction; it is kept until exp + skew.
import { z } from 'zod';
import { inTx, type LedgerContext } from './context.js';

/** The token's cti as hex; stored lowercase so case cannot make a second use look new. */
export const tokenIdSchema = z
  .string()
  .regex(/^[0-9A-Fa-f]{2,64}$/, 'token id must be hexadecimal')
  .transform((s) => s.toLowerCase());

/** Returns false when the id was used before (a replay). Call inside the hold transaction. */
export function claimToken(ctx: LedgerContext, t: { tokenId: string; expSec: number; vendId: string }): boolean {
  const res = ctx.db
    .prepare('INSERT INTO used_tokens (token_id, exp_sec, vend_id, used_ms) VALUES (?, ?, ?, ?) ON CONFLICT(token_id) DO NOTHING')
    .run(t.tokenId, t.expSec, t.vendId, Math.floor(ctx.clock.now()));
  return res.changes === 1;
}

export function isTokenUsed(ctx: LedgerContext, tokenId: string): boolean {
  return ctx.db.prepare('SELECT 1 FROM used_tokens WHERE token_id = ?').get(tokenIdSchema.parse(tokenId)) !== undefined;
}

/** nowSec must be the floor-protected time: a clock running behind must not prune early. */
export function pruneUsedTokens(ctx: LedgerContext, nowSec: number, skewSec: number): number {
  const now = z.number().int().parse(nowSec);
  const skew = z.number().int().nonnegative().parse(skewSec);
  return inTx(ctx.db, () => ctx.db.prepare('DELETE FROM used_tokens WHERE exp_sec + ? < ?').run(skew, now).changes);
}
