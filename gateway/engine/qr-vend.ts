// A scanned QR code becomes a vend: verify the token offline (signature, room, time against the
// clock floor, single use, machine; the verifier logs its verdict), then hand it to the vend
// engine, which checks the price against what was paid and stores the token id in the same
// transaction as the hold.
import type { Ledger } from '../../storage/index.js';
import type { TokenVerifier } from '../tokens/token-verifier.js';
import type { VendEngine, VendOutcome } from './vend-engine.js';

export interface QrVendOptions {
  /** The room's keys and the clock floor's trusted time around the pure verifyToken. */
  verifier: Pick<TokenVerifier, 'verify'>;
  ledger: Ledger;
  engine: VendEngine;
}

export async function qrVend(o: QrVendOptions, scan: { readerId: string; text: string; machineId: string | null }): Promise<VendOutcome> {
  const r = o.verifier.verify(scan.text, {
    ...(scan.machineId !== null ? { machineId: scan.machineId } : {}),
    isUsed: (id) => o.ledger.isTokenUsed(id),
  });
  if (!r.ok) {
    o.ledger.recordDecline({
      method: 'qr',
      reason: r.reason,
      ...(scan.machineId !== null ? { machineId: scan.machineId } : {}),
      ...(r.tokenId !== undefined ? { tokenId: r.tokenId } : {}),
      detail: { readerId: scan.readerId, step: r.step, detail: r.detail },
    });
    return { result: 'declined', reason: r.reason, machineId: scan.machineId };
  }
  if (r.machineId === undefined) {
    o.ledger.recordDecline({ method: 'qr', reason: 'wrong_machine', tokenId: r.tokenId, detail: { readerId: scan.readerId, detail: 'a kiosk token must name its machine' } });
    return { result: 'declined', reason: 'wrong_machine', machineId: null };
  }
  return o.engine.tokenVend({
    readerId: scan.readerId,
    machineId: r.machineId,
    program: r.program,
    tokenId: r.tokenId,
    expiresAt: r.expiresAt,
    amountCents: r.amountCents,
    ...(r.claims.acct !== undefined ? { accountId: r.claims.acct } : {}),
  });
}
