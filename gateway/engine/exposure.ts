// Offline exposure: the money of vends the cloud has not acknowledged yet, for the risk rules'
// per-card and per-room caps.
import type { Ledger } from '../../storage/index.js';

export function ledgerExposure(ledger: Ledger, accountId: string | null): { accountCents: number; roomCents: number } {
  const e = ledger.unsyncedExposure(accountId);
  return { accountCents: e.accountCents, roomCents: e.roomCents };
}
