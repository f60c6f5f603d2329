// The piece the vend engine calls: the room's trusted keys (replaced whenever a new signed room
// configuration arrives) and the clock floor's trusted time, around the pure verifyToken.
// Logs each verdict without the token text: only the reason, the kid and the token id.
import type { Logger } from '../core/log.js';
import { verifyToken, type TrustedKey, type VerifyResult } from '../../protocols/qr-token/verify.js';
import { keySetStatus, parseTrustedKeys, type KeySetStatus } from './trusted-keys.js';
import type { ClockFloor, ClockFloorStatus } from './clock-floor.js';

export interface TokenVerifierOptions {
  roomId: string;
  floor: Pick<ClockFloor, 'nowSec' | 'status'>;
  /** The `qrTokens` block of the room configuration; more can come later through setConfig(). */
  config?: unknown;
  logger: Logger;
}

export interface TokenScan {
  /** The scanner's machine; undefined at a kiosk. */
  machineId?: string;
  priceCents?: number;
  isUsed: (tokenId: string) => boolean;
}

export class TokenVerifier {
  private readonly roomId: string;
  private readonly floor: Pick<ClockFloor, 'nowSec' | 'status'>;
  private readonly logger: Logger;
  private keys: TrustedKey[] = [];
  private skewSec = 300;

  constructor(opts: TokenVerifierOptions) {
    this.roomId = opts.roomId;
    this.floor = opts.floor;
    this.logger = opts.logger;
    if (opts.config !== undefined) {
      const r = this.setConfig(opts.config);
      if (!r.ok) throw new Error(`invalid qrTokens configuration: ${r.errors.join('; ')}`);
    }
  }

  /** Replaces the trusted key set as a whole (rotation and revocation happen here). A bad block changes nothing. */
  setConfig(block: unknown): { ok: true; keys: number } | { ok: false; errors: string[] } {
    const r = parseTrustedKeys(block);
    if (!r.ok) {
      this.logger.error({ errors: r.errors }, 'qrTokens configuration refused; keeping the previous keys');
      return r;
    }
    this.keys = r.keys;
    this.skewSec = r.skewSec;
    this.logger.info({ kids: r.keys.map((k) => k.kid) }, 'QR token keys loaded');
    return { ok: true, keys: r.keys.length };
  }

  verify(text: string, scan: TokenScan): VerifyResult {
    const nowSec = this.floor.nowSec();
    const r = verifyToken(text, {
      roomId: this.roomId,
      ...(scan.machineId === undefined ? {} : { machineId: scan.machineId }),
      ...(scan.priceCents === undefined ? {} : { priceCents: scan.priceCents }),
      nowSec,
      skewSec: this.skewSec,
      trustedKeys: this.keys,
      isUsed: scan.isUsed,
    });
    if (r.ok) this.logger.info({ tokenId: r.tokenId, kid: r.kid, machineId: r.machineId, amountCents: r.amountCents, chargeCents: r.chargeCents }, 'QR token accepted');
    else this.logger.warn({ reason: r.reason, detail: r.detail, tokenId: r.tokenId, machineId: scan.machineId, clockTrusted: this.floor.status().trusted }, 'QR token refused');
    return r;
  }

  /** The allowed clock skew in force: used ids are kept until exp plus this. */
  get skew(): number {
    return this.skewSec;
  }

  status(): { keys: KeySetStatus; clock: ClockFloorStatus } {
    return { keys: keySetStatus(this.keys, this.floor.nowSec()), clock: this.floor.status() };
  }
}
