// The admission point for card taps, in front of the vend engine's card path: a type S line is
// verified against the live keys, every UID read (any reader type) is checked against the card
// list's secure flag and the room policy, and what fails is declined here with its audit row
// (and, for a copied card, an alert upstream). What passes goes on to the engine as an ordinary
// card swipe; a SUN tap carries `sunCounter`, which the engine must hand to the ledger's `hold`
// (or `recordDecline`, when it declines for its own reasons), where it is spent in that same
// transaction. The check here is a read; the transaction is what makes a replay impossible.
import { maskUid, type Logger } from '../core/log.js';
import { verifySunUri, type SunKeySet } from '../../protocols/secure-card/index.js';
import type { AlertsLedger, SecureCardsLedger, VendsLedger } from '../../storage/index.js';
import { SECURE_CARD_DECLINE_REASONS, decideTap, type CardTap, type SecureCardDeclineReason, type SecureCardPolicy } from './decide.js';

/** The facts it decides on, and the decline (a vend not made) and alert it records. */
export type SecureCardGateLedger = SecureCardsLedger & VendsLedger & AlertsLedger;

export interface SecureCardGateDeps {
  ledger: SecureCardGateLedger;
  /** The live key versions, read at each tap so that a reload or rotation takes effect at once. */
  keys: () => readonly SunKeySet[];
  policy: SecureCardPolicy;
  logger: Logger;
}

export interface TapSource {
  readerId: string;
  /** The machine the reader is attached to; null at a kiosk. */
  machineId: string | null;
}

export type Admission =
  /** On to the engine's card path with this UID; a SUN tap's counter must reach the hold. */
  | { admitted: true; uid: string; sunCounter: number | null; keyVersion: number | null }
  | { admitted: false; reason: SecureCardDeclineReason; auditSeq: number };

export class SecureCardGate {
  private readonly o: SecureCardGateDeps;
  private readonly log: Logger;
  private readonly declines: Record<SecureCardDeclineReason, number>;
  private admittedSun = 0;
  private admittedPlain = 0;

  constructor(deps: SecureCardGateDeps) {
    this.o = deps;
    this.log = deps.logger.child({ component: 'secure-cards' });
    this.declines = Object.fromEntries(SECURE_CARD_DECLINE_REASONS.map((r) => [r, 0])) as Record<SecureCardDeclineReason, number>;
  }

  /** A type S line that names a SUN message (the reader's `sun` event). */
  admitSun(src: TapSource & { text: string }): Admission {
    const verified = verifySunUri(src.text, this.o.keys());
    const facts = verified.ok ? this.o.ledger.secureCardFacts(verified.uid) : { listed: null, roomCounter: null };
    return this.settle(src, { kind: 'sun', verified }, facts);
  }

  /** A UID read on any reader type (the reader's `swipe` event). */
  admitPlain(src: TapSource & { uid: string }): Admission {
    return this.settle(src, { kind: 'plain', uid: src.uid }, this.o.ledger.secureCardFacts(src.uid));
  }

  stats(): { admittedSun: number; admittedPlain: number; declines: Record<SecureCardDeclineReason, number> } {
    return { admittedSun: this.admittedSun, admittedPlain: this.admittedPlain, declines: { ...this.declines } };
  }

  private settle(src: TapSource, tap: CardTap, facts: Parameters<typeof decideTap>[1]): Admission {
    const d = decideTap(tap, facts, this.o.policy);
    const card = d.uid === null ? null : maskUid(d.uid);
    if (d.ok) {
      if (d.sun) this.admittedSun++;
      else this.admittedPlain++;
      return { admitted: true, uid: d.uid, sunCounter: d.sun?.counter ?? null, keyVersion: d.sun?.keyVersion ?? null };
    }
    this.declines[d.reason]++;
    const machine = src.machineId === null ? {} : { machineId: src.machineId };
    const { auditSeq } = this.o.ledger.recordDecline({
      method: 'card',
      reason: d.reason,
      ...machine,
      ...(d.uid === null ? {} : { cardUid: d.uid }),
      detail: { readerId: src.readerId, why: d.detail, tap: tap.kind },
    });
    if (d.alert) {
      this.o.ledger.appendAlert({
        code: d.reason,
        message: 'a plain UID read of a secure card: probably a copy of it',
        ...machine,
        detail: { readerId: src.readerId, cardMask: card, declineAuditSeq: auditSeq },
      });
    }
    this.log.info({ reader: src.readerId, card, machineId: src.machineId, reason: d.reason, tap: tap.kind }, 'card tap declined');
    return { admitted: false, reason: d.reason, auditSeq };
  }
}
