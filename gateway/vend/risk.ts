// Risk rules for offline vends: they bound what a cloned, lost or probed card can cost while the
// cloud cannot be asked. Pure: the state is a plain value the caller keeps (in memory or
// persisted through riskStateSchema) and passes back in; time comes in as `now`.
import { z } from 'zod';
import { maskUid } from '../core/log.js';
import type { ReasonCode } from './reasons.js';

const ms = z.number().int().min(0);

export const riskConfigSchema = z.strictObject({
  failures: z
    .strictObject({
      /** Failed attempts within windowMs that lock a card out. */
      perCard: z.number().int().min(1).default(5),
      /** Failed attempts within windowMs that lock a reader out (many cards probed at one reader). */
      perReader: z.number().int().min(1).default(15),
      windowMs: ms.default(10 * 60_000),
      /** First lockout; each further one multiplies by lockoutFactor, up to lockoutMaxMs. */
      lockoutBaseMs: ms.default(60_000),
      lockoutFactor: z.number().min(1).max(10).default(2),
      lockoutMaxMs: ms.default(60 * 60_000),
      /** A quiet period this long after the last lockout forgets the backoff level. */
      levelResetMs: ms.default(24 * 60 * 60_000),
    })
    .prefault({}),
  velocity: z
    .strictObject({
      /** Vends one card may start within windowMs; the next is declined and alerted. */
      maxVends: z.number().int().min(1).default(4),
      windowMs: ms.default(60 * 60_000),
    })
    .prefault({}),
  offline: z
    .strictObject({
      /** Most cents one card may have in vends the cloud has not acknowledged, this vend included. */
      cardCapCents: z.number().int().min(0).default(3_000),
      /** The same for the whole room. */
      roomCapCents: z.number().int().min(0).default(30_000),
    })
    .prefault({}),
  funds: z
    .strictObject({
      /** The lowest an account balance may go after a hold; pass it to the ledger's hold as floorCents. */
      floorCents: z.number().int().max(0).default(0),
    })
    .prefault({}),
});

export type RiskConfig = z.infer<typeof riskConfigSchema>;
export type RiskConfigInput = z.input<typeof riskConfigSchema>;

export function parseRiskConfig(input: unknown): RiskConfig {
  return riskConfigSchema.parse(input ?? {});
}

const counterSchema = z.strictObject({
  failures: z.array(ms),
  lockedUntil: ms,
  level: z.number().int().min(0),
  lastLockoutAt: ms,
});
const cardRiskSchema = counterSchema.extend({ vends: z.array(ms) });

/** For loading a persisted state: it is outside input like any other. */
export const riskStateSchema = z.strictObject({
  cards: z.record(z.string(), cardRiskSchema),
  readers: z.record(z.string(), counterSchema),
});

type Counter = z.infer<typeof counterSchema>;
type CardRisk = z.infer<typeof cardRiskSchema>;
export type RiskState = z.infer<typeof riskStateSchema>;

export function emptyRiskState(): RiskState {
  return { cards: {}, readers: {} };
}

export type CardStatus = 'active' | 'unknown' | 'blocked' | 'lost';

export interface RiskAlert {
  code: ReasonCode | 'lockout_started';
  severity: 'warning' | 'critical';
  /** Masked: never the full UID. */
  card?: string;
  readerId?: string;
  detail: string;
}

export interface AssessInput {
  now: number;
  /** The paying subject: a card UID, or for a QR vend its account id. Kept in state, never in alerts. */
  cardId?: string;
  readerId?: string;
  cardStatus: CardStatus;
  amountCents: number;
  /** Cents of this card's vends the cloud has not acknowledged yet (the ledger knows). */
  unsyncedCardCents: number;
  /** The same for the whole room. */
  unsyncedRoomCents: number;
  /** Balance minus other holds minus config.funds.floorCents; omit when the vend is prepaid (QR). */
  availableCents?: number;
}

export type Assessment = { allow: true } | { allow: false; reason: ReasonCode; alert?: RiskAlert };

/** Checks in a fixed order (docs/vend.md); the first that fails names the reason. */
export function assess(config: RiskConfig, state: RiskState, input: AssessInput): Assessment {
  const { now, cardId, readerId } = input;
  const who = cardId === undefined ? {} : { card: maskUid(cardId) };
  const where = readerId === undefined ? {} : { readerId };
  if (input.cardStatus === 'lost') {
    return { allow: false, reason: 'card_lost', alert: { code: 'card_lost', severity: 'critical', ...who, ...where, detail: 'a card reported lost was presented' } };
  }
  if (input.cardStatus === 'blocked') {
    return { allow: false, reason: 'card_blocked', alert: { code: 'card_blocked', severity: 'warning', ...who, ...where, detail: 'a blocked card was presented' } };
  }
  const reader = readerId === undefined ? undefined : state.readers[readerId];
  if (reader && reader.lockedUntil > now) return { allow: false, reason: 'locked_out' };
  const card = cardId === undefined ? undefined : state.cards[cardId];
  if (card && card.lockedUntil > now) return { allow: false, reason: 'locked_out' };
  if (input.cardStatus === 'unknown') return { allow: false, reason: 'unknown_card' };

  if (card) {
    const recent = card.vends.filter((t) => t > now - config.velocity.windowMs).length;
    if (recent >= config.velocity.maxVends) {
      return {
        allow: false,
        reason: 'velocity',
        alert: { code: 'velocity', severity: 'warning', ...who, ...where, detail: `${recent} vends within ${config.velocity.windowMs / 60_000} min` },
      };
    }
  }
  if (input.unsyncedCardCents + input.amountCents > config.offline.cardCapCents) return { allow: false, reason: 'offline_cap_card' };
  if (input.unsyncedRoomCents + input.amountCents > config.offline.roomCapCents) {
    return {
      allow: false,
      reason: 'offline_cap_room',
      alert: { code: 'offline_cap_room', severity: 'warning', ...where, detail: `room offline exposure would reach ${input.unsyncedRoomCents + input.amountCents} ¢` },
    };
  }
  if (input.availableCents !== undefined && input.availableCents < input.amountCents) return { allow: false, reason: 'insufficient_funds' };
  return { allow: true };
}

export interface OutcomeInput {
  now: number;
  cardId?: string;
  readerId?: string;
  /** failure: a refused attempt that counts (reasons.countsAsFailure); vend: a vend was held for this card. */
  outcome: 'failure' | 'vend';
}

export interface OutcomeResult {
  state: RiskState;
  alerts: RiskAlert[];
}

/** Returns a new state; the one passed in is not changed. */
export function recordOutcome(config: RiskConfig, state: RiskState, input: OutcomeInput): OutcomeResult {
  const next = pruneRiskState(config, state, input.now);
  const alerts: RiskAlert[] = [];
  const { now, cardId, readerId } = input;
  if (input.outcome === 'vend') {
    if (cardId !== undefined) {
      const c = next.cards[cardId] ?? newCard();
      // A good vend proves the holder: forget the failures and the backoff level.
      next.cards[cardId] = { ...c, failures: [], level: 0, vends: [...c.vends, now] };
    }
    return { state: next, alerts };
  }
  if (cardId !== undefined) {
    const c = next.cards[cardId] ?? newCard();
    const locked = failOnce(config, c, now, config.failures.perCard);
    next.cards[cardId] = { ...c, ...locked.counter };
    if (locked.lockedMs > 0) {
      alerts.push({ code: 'lockout_started', severity: 'warning', card: maskUid(cardId), ...(readerId === undefined ? {} : { readerId }), detail: `card locked for ${Math.round(locked.lockedMs / 1000)} s` });
    }
  }
  if (readerId !== undefined) {
    const r = next.readers[readerId] ?? newCounter();
    const locked = failOnce(config, r, now, config.failures.perReader);
    next.readers[readerId] = locked.counter;
    if (locked.lockedMs > 0) alerts.push({ code: 'lockout_started', severity: 'critical', readerId, detail: `reader locked for ${Math.round(locked.lockedMs / 1000)} s` });
  }
  return { state: next, alerts };
}

/** Lockout length for a given backoff level (0 = first lockout). */
export function lockoutMs(config: RiskConfig, level: number): number {
  const f = config.failures;
  return Math.min(f.lockoutMaxMs, Math.round(f.lockoutBaseMs * f.lockoutFactor ** level));
}

function failOnce(config: RiskConfig, c: Counter, now: number, limit: number): { counter: Counter; lockedMs: number } {
  // Attempts made while already locked out extend nothing: the lockout is the answer to them.
  if (c.lockedUntil > now) return { counter: c, lockedMs: 0 };
  const failures = [...c.failures, now];
  if (failures.length < limit) return { counter: { ...c, failures }, lockedMs: 0 };
  const level = c.lastLockoutAt > 0 && now - c.lastLockoutAt > config.failures.levelResetMs ? 0 : c.level;
  const lockedMs = lockoutMs(config, level);
  return { counter: { failures: [], lockedUntil: now + lockedMs, level: level + 1, lastLockoutAt: now }, lockedMs };
}

/** Drops what no rule can still use, so a persisted state stays small. */
export function pruneRiskState(config: RiskConfig, state: RiskState, now: number): RiskState {
  const f = config.failures;
  const keepCounter = (c: Counter): Counter => ({ ...c, failures: c.failures.filter((t) => t > now - f.windowMs) });
  const alive = (c: Counter): boolean => c.failures.length > 0 || c.lockedUntil > now || (c.level > 0 && now - c.lastLockoutAt <= f.levelResetMs);
  const cards: Record<string, CardRisk> = {};
  for (const [k, c] of Object.entries(state.cards)) {
    const kept: CardRisk = { ...keepCounter(c), vends: c.vends.filter((t) => t > now - config.velocity.windowMs) };
    if (alive(kept) || kept.vends.length > 0) cards[k] = kept;
  }
  const readers: Record<string, Counter> = {};
  for (const [k, r] of Object.entries(state.readers)) {
    const kept = keepCounter(r);
    if (alive(kept)) readers[k] = kept;
  }
  return { cards, readers };
}

function newCounter(): Counter {
  return { failures: [], lockedUntil: 0, level: 0, lastLockoutAt: 0 };
}

function newCard(): CardRisk {
  return { ...newCounter(), vends: [] };
}
