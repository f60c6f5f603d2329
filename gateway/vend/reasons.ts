// One list of decline, refund and rejection reason codes for the whole project: the ledger's audit
// trail, the uplink, the status page and the risk rules all speak these strings, so a reason seen
// upstream means the same thing wherever it was produced.
import { z } from 'zod';

/** Why a card or account may not vend (before any hold). */
export const CARD_DECLINE_REASONS = [
  'unknown_card',
  'card_blocked',
  'card_lost',
  'insufficient_funds',
  'locked_out',
  'velocity',
  'offline_cap_card',
  'offline_cap_room',
  'no_price',
] as const;

/** Why the machine could not take the vend, before or in answer to the credit command. */
export const MACHINE_REASONS = [
  'machine_offline',
  'machine_busy',
  'door_open',
  'machine_fault',
  'machine_service',
  'unknown_program',
  'bad_argument',
  'not_allowed',
  'command_unsupported',
] as const;

/** Why a held vend ended in a refund rather than a capture. */
export const VEND_REFUND_REASONS = [
  'credit_rejected',
  'credit_timeout',
  'not_executed',
  'fault_abort',
  'auth_timeout',
  'internal_error',
] as const;

/** QR token rejections, in the order the token spec checks them (shared/specs/qr-token.md). */
export const QR_REJECT_REASONS = [
  'bad_format',
  'bad_signature',
  'unknown_key',
  'wrong_room',
  'not_yet_valid',
  'expired',
  'replayed',
  'wrong_machine',
  'over_amount',
] as const;

/** Why the room, not the card or the machine, refuses a vend or a command (gateway/engine). */
export const ROOM_REASONS = [
  /** The ledger cannot write (disk full, I/O error, read-only): nothing is sold it cannot record. */
  'ledger_unavailable',
  /** An earlier vend on the machine is not settled; a command now would disturb its evidence. */
  'vend_unsettled',
  /** A remote start with no payer on a machine no vend of ours has credited. */
  'payment_required',
  /** A cancel or add-time with no paid cycle of ours on the machine to charge or refund. */
  'no_paid_cycle',
] as const;

/**
 * Secure-card (NTAG 424 DNA) declines not listed above (docs/secure-cards.md): the gate in front
 * of the card path also declines `bad_format`, `unknown_card` and `replayed`, the same words as a
 * QR token's or an unlisted card's.
 */
export const SECURE_CARD_REASONS = [
  /** The SUN message's MAC does not match (a forged or altered message, or a retired key version). */
  'bad_mac',
  /** A plain UID read of a card the card list marks secure: probably a copy of it. */
  'clone_suspected',
] as const;

export const REASON_CODES = [...CARD_DECLINE_REASONS, ...MACHINE_REASONS, ...VEND_REFUND_REASONS, ...QR_REJECT_REASONS, ...ROOM_REASONS, ...SECURE_CARD_REASONS] as const;

export type CardDeclineReason = (typeof CARD_DECLINE_REASONS)[number];
export type MachineReason = (typeof MACHINE_REASONS)[number];
export type VendRefundReason = (typeof VEND_REFUND_REASONS)[number];
export type QrRejectReason = (typeof QR_REJECT_REASONS)[number];
export type ReasonCode = (typeof REASON_CODES)[number];

export const reasonCodeSchema = z.enum(REASON_CODES);

const ALL: ReadonlySet<string> = new Set(REASON_CODES);

export function isReasonCode(value: string): value is ReasonCode {
  return ALL.has(value);
}

/**
 * LW-485 "last result" (input 25) to a reason code. 1 is acceptance and has no reason; unknown
 * results map to credit_rejected so that a new firmware code still ends in a refund, not a crash.
 */
export function reasonForLw485Result(result: number): ReasonCode | null {
  switch (result) {
    case 1:
      return null;
    case 2:
      return 'machine_busy';
    case 3:
      return 'door_open';
    case 4:
      return 'machine_fault';
    case 5:
      return 'unknown_program';
    case 6:
      return 'bad_argument';
    case 7:
      return 'not_allowed';
    default:
      return 'credit_rejected';
  }
}

/**
 * A device profile's reject reason (gateway/profiles/types.ts RejectReason) to a reason code.
 * Codes that already are reason codes pass through; anything new maps to credit_rejected.
 */
export function reasonForRejection(reason: string | undefined): ReasonCode {
  switch (reason) {
    case 'busy':
    case 'in_use':
      return 'machine_busy';
    case 'fault':
      return 'machine_fault';
    case 'unreachable':
      return 'machine_offline';
    case 'device_exception':
    case undefined:
      return 'credit_rejected';
    default:
      return isReasonCode(reason) ? reason : 'credit_rejected';
  }
}

/**
 * Reasons that count as a failed attempt for the risk rules' lockout: what a person probing with
 * a cloned or stolen card, or a forged QR code, would produce. Machine trouble and caps are not
 * the presenter's fault and do not count.
 */
export const FAILURE_REASONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  'unknown_card',
  'card_blocked',
  'card_lost',
  'insufficient_funds',
  // Every QR rejection counts: a forged or replayed token is the presenter's doing.
  ...QR_REJECT_REASONS,
  // So does a forged SUN message or a copied secure card.
  ...SECURE_CARD_REASONS,
]);

export function countsAsFailure(reason: ReasonCode): boolean {
  return FAILURE_REASONS.has(reason);
}
