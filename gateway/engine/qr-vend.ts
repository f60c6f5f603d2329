// A scanned QR code becomes a vend: verify the token offline (signature, room, time against the
// clock floor, single use, machine), then hand it to the vend engine, which checks the price
// against what was paid and stores the token id in the same transaction as the hold.
import type { Logger } from '../core/log.js';
import type { Ledger } from '../../storage/index.js';
import { verifyToken, type TrustedKey } from '../../protocols/qr-token/verify.js';
import type { VendEngine, VendOutcome } from './vend-engine.js';

export interface QrVendOptions {
  roomId: string;
  keys: () => readonly TrustedKey[];
  skewSec: number;
  /** The gateway's trusted time, seconds: max(system clock, persisted floor). */
  nowSec: () => number;
  ledger: Ledger;
  engine: VendEngine;
  logger: Logger;
}

export async function qrVend(o: QrVendOptions, scan: { readerId: string; text: string; machineId: string | null }): Promise<VendOutcome> {
  const nowSec = o.nowSec();
  const r = verifyToken(scan.text, {
    roomId: o.roomId,
    ...(scan.machineId !== null ? { machineId: scan.machineId } : {}),
    nowSec,
    skewSec: o.skewSec,
    trustedKeys: o.keys(),
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
    o.logger.info({ reader: scan.readerId, reason: r.reason, step: r.step }, 'qr token rejected');
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
