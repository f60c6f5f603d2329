// What the room decides about a card tap before the card becomes an ordinary account card
// (../shared/specs/secure-cards.md, "What the gateway decides"): a verified SUN message must carry
// a counter above every one seen for that UID, a plain UID read of a card the list marks secure
// is a copy, and a room may refuse plain cards altogether. Pure: the caller has verified the
// message (protocols/secure-card) and looked the facts up in the ledger; no I/O, no clock.
import type { SunVerifyResult } from '../../protocols/secure-card/index.js';
import type { ReasonCode } from '../vend/reasons.js';

/** Each one a reason code of the whole project (gateway/vend/reasons.ts): audit, uplink, /metrics. */
export const SECURE_CARD_DECLINE_REASONS = ['replayed', 'bad_mac', 'unknown_card', 'bad_format', 'clone_suspected'] as const satisfies readonly ReasonCode[];
export type SecureCardDeclineReason = (typeof SECURE_CARD_DECLINE_REASONS)[number];

export type CardTap =
  /** A type S line, already through verifySunUri. */
  | { kind: 'sun'; verified: SunVerifyResult }
  /** A UID read: a type L or E line, or a type S `UID:` line. */
  | { kind: 'plain'; uid: string };

/** What the room knows about the tap's UID (for a SUN tap: the UID inside the verified message). */
export interface SecureCardFacts {
  /** The card list's entry; null when the UID is not listed. */
  listed: { secure: boolean; fleetCounter: number | null; keyVersion: number | null } | null;
  /** The highest counter this room has accepted for the UID; null when never. */
  roomCounter: number | null;
}

export interface SecureCardPolicy {
  /** The room takes secure cards only: a plain UID read is declined `unknown_card`. */
  refusePlainCards: boolean;
}

export type SecureCardDecision =
  /** On to the ordinary card path; a SUN tap carries its counter, to be spent with the hold or decline. */
  | { ok: true; uid: string; sun: { counter: number; keyVersion: number } | null }
  /**
   * Declined. `uid` is set only when it is known and authentic enough to name in the audit (a
   * verified message, or the UID a plain read presented); `alert` asks for an alert upstream.
   */
  | { ok: false; reason: SecureCardDeclineReason; detail: string; uid: string | null; alert: boolean };

/** The counter a SUN tap must exceed: the room's own and the fleet's, whichever is higher; -1 if none. */
export function counterFloor(facts: SecureCardFacts): number {
  return Math.max(facts.roomCounter ?? -1, facts.listed?.fleetCounter ?? -1);
}

export function decideTap(tap: CardTap, facts: SecureCardFacts, policy: SecureCardPolicy): SecureCardDecision {
  if (tap.kind === 'plain') {
    if (facts.listed?.secure === true) {
      return { ok: false, reason: 'clone_suspected', detail: 'a plain UID read of a card the list marks secure', uid: tap.uid, alert: true };
    }
    if (policy.refusePlainCards) return { ok: false, reason: 'unknown_card', detail: 'this room takes secure cards only', uid: tap.uid, alert: false };
    return { ok: true, uid: tap.uid, sun: null };
  }
  const v = tap.verified;
  if (!v.ok) return { ok: false, reason: v.reason, detail: v.detail, uid: null, alert: false };
  // A card re-encoded under a newer key version must not be accepted under an older one: the
  // older keys may be exactly what a stolen gateway gave away. A newer version than the list
  // says is a list that has not caught up, and only the newer keys could have made it.
  const listedVersion = facts.listed?.keyVersion ?? null;
  if (listedVersion !== null && v.keyVersion < listedVersion) {
    return { ok: false, reason: 'bad_mac', detail: `made under key version ${v.keyVersion}; the card list says ${listedVersion}`, uid: v.uid, alert: false };
  }
  const floor = counterFloor(facts);
  if (v.counter <= floor) {
    return { ok: false, reason: 'replayed', detail: `counter ${v.counter} is not above ${floor}`, uid: v.uid, alert: false };
  }
  return { ok: true, uid: v.uid, sun: { counter: v.counter, keyVersion: v.keyVersion } };
}
