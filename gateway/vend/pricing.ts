// Prices one vend from the room's rules. Pure: the caller resolves the local time (toLocalTime)
// and the account's counters; nothing here reads a clock or a database. Every step works on
// integer cents and is listed in the breakdown, so a price can be explained to a user and audited.
import { localParts } from '../core/time-zone.js';
import type { MachineKind } from '../machines/state.js';
import type { AdviceRule, BaseRule, PriceRules, Tier, TimeWindow } from './pricing-schema.js';

export interface LocalTime {
  /** 0 = Sunday … 6 = Saturday, in the room's zone. */
  weekday: number;
  /** Minutes since local midnight, 0..1439. */
  minuteOfDay: number;
}

export interface PriceAccount {
  tier?: string;
  tenureMonths?: number;
  washesThisMonth?: number;
  /** Included (lease) washes already used this month; defaults to washesThisMonth. */
  includedWashesUsed?: number;
  /** Vends this account completed before this one, for every-Nth-free. */
  lifetimeVends?: number;
  /** Gym members may pay with points instead of balance. */
  payWithPoints?: boolean;
}

export interface PriceInput {
  machine: { id: string; kind: MachineKind; program: number; minutes?: number; addTime?: boolean };
  account?: PriceAccount;
  localTime: LocalTime;
  /** As the machine reports it; null, undefined or 0 mean no load cell. */
  loadWeightGrams?: number | null;
  waterHardnessDh?: number | null;
}

export type BreakdownKind = 'base' | 'time' | 'weight' | 'member' | 'off-peak' | 'included' | 'nth-free';

export interface BreakdownLine {
  ruleId: string;
  kind: BreakdownKind;
  /** Signed change this rule made; the base line carries the base price. */
  deltaCents: number;
  amountAfterCents: number;
  note: string;
}

export interface Advice {
  ruleId: string;
  message: string;
  suggestProgram?: number;
}

export type PriceResult =
  | {
      ok: true;
      amountCents: number;
      /** Only when paying with points: the points to deduct (the unit is points, the name is the brief's). */
      pointsCents?: number;
      /** Dryers: the minutes actually credited (whole steps). */
      minutes?: number;
      ruleSetVersion: string;
      /** The last rule that changed the amount; the base rule when nothing did. */
      ruleId: string;
      breakdown: BreakdownLine[];
      advice: Advice[];
    }
  | { ok: false; reason: 'unknown_program' | 'bad_argument'; detail: string; ruleSetVersion: string };

export function priceVend(rules: PriceRules, input: PriceInput): PriceResult {
  const { machine } = input;
  const fail = (reason: 'unknown_program' | 'bad_argument', detail: string): PriceResult => ({ ok: false, reason, detail, ruleSetVersion: rules.version });
  if (machine.addTime && machine.kind !== 'dryer') return fail('bad_argument', 'add-time is for dryers only');

  const baseRule = findBaseRule(rules.base, machine);
  if (!baseRule) return fail('unknown_program', `no price for ${machine.kind} program ${machine.program}`);

  const lines: BreakdownLine[] = [];
  let amount: number;
  let minutes: number | undefined;
  if (baseRule.kind === 'dryer') {
    // The minimum is for a new cycle; add-time tops up one that is running.
    const minSteps = machine.addTime ? 1 : baseRule.minSteps;
    const wanted = machine.minutes ?? minSteps * baseRule.stepMinutes;
    if (!Number.isInteger(wanted) || wanted <= 0) return fail('bad_argument', 'minutes must be a positive integer');
    // A started step is a whole step: the machine credits whole steps only.
    const steps = Math.max(minSteps, Math.ceil(wanted / baseRule.stepMinutes));
    if (steps > baseRule.maxSteps) return fail('bad_argument', `at most ${baseRule.maxSteps * baseRule.stepMinutes} minutes`);
    const stepCents = machine.addTime ? (baseRule.addTimeStepCents ?? baseRule.stepCents) : baseRule.stepCents;
    minutes = steps * baseRule.stepMinutes;
    amount = steps * stepCents;
    lines.push({ ruleId: baseRule.id, kind: 'base', deltaCents: amount, amountAfterCents: amount, note: `${steps} × ${stepCents} ¢ for ${minutes} min` });
  } else {
    if (machine.minutes !== undefined) return fail('bad_argument', 'minutes are for dryers only');
    amount = baseRule.priceCents;
    lines.push({ ruleId: baseRule.id, kind: 'base', deltaCents: amount, amountAfterCents: amount, note: `program ${machine.program}` });
  }
  let decidingRule = baseRule.id;
  const change = (ruleId: string, kind: BreakdownKind, next: number, note: string): void => {
    const clamped = Math.max(0, next);
    if (clamped === amount) return;
    lines.push({ ruleId, kind, deltaCents: clamped - amount, amountAfterCents: clamped, note });
    amount = clamped;
    decidingRule = ruleId;
  };

  // 2. Time of day: the first matching rule only, so overlapping rules never stack by accident.
  const timeRule = rules.timeRules.find((r) => inScope(r, machine) && inWindow(r.window, input.localTime));
  if (timeRule) {
    const a = timeRule.adjust;
    if (a.type === 'fixed') change(timeRule.id, 'time', a.priceCents, 'time-of-day price');
    else if (a.type === 'delta') change(timeRule.id, 'time', amount + a.deltaCents, 'time-of-day adjustment');
    else change(timeRule.id, 'time', applyPercent(amount, a.percent, a.direction), `${a.direction} ${a.percent}%`);
  }

  // 3. Load weight fee, before discounts, so member discounts apply to it too.
  const fee = rules.weightFee;
  const grams = input.loadWeightGrams ?? 0;
  if (fee && fee.kinds.includes(machine.kind) && !machine.addTime && grams > fee.thresholdGrams) {
    const startedKg = Math.ceil((grams - fee.thresholdGrams) / 1000);
    change(fee.id, 'weight', amount + startedKg * fee.perKgCents, `${startedKg} kg over ${fee.thresholdGrams / 1000} kg`);
  }

  // 4. Member tier: the better of the tier discount and the tenure step.
  const account = input.account;
  const tier = account?.tier === undefined ? undefined : rules.tiers.find((t) => t.id === account.tier);
  if (tier) {
    const pct = memberPercent(tier, account?.tenureMonths ?? 0);
    if (pct > 0) change(tier.id, 'member', applyPercent(amount, pct, 'discount'), `member ${pct}% off`);
  }

  // 5. Off-peak promotion, on top of the member discount.
  const offPeak = rules.promotions.offPeak;
  if (offPeak && inScope(offPeak, machine) && offPeak.windows.some((w) => inWindow(w, input.localTime))) {
    change(offPeak.id, 'off-peak', applyPercent(amount, offPeak.percentOff, 'discount'), `off-peak ${offPeak.percentOff}% off`);
  }

  // 6. Free vends last: they win over every other rule. Never for add-time (not a new wash).
  if (!machine.addTime && account) {
    const used = account.includedWashesUsed ?? account.washesThisMonth ?? 0;
    const nth = rules.promotions.nthFree;
    if (tier && tier.includedWashesPerMonth > 0 && tier.includedKinds.includes(machine.kind) && used < tier.includedWashesPerMonth) {
      change(`${tier.id}:included`, 'included', 0, `included wash ${used + 1} of ${tier.includedWashesPerMonth}`);
    } else if (nth && nth.kinds.includes(machine.kind) && ((account.lifetimeVends ?? 0) + 1) % nth.every === 0) {
      change(nth.id, 'nth-free', 0, `every ${nth.every}th wash free`);
    }
  }

  const result: PriceResult = {
    ok: true,
    amountCents: amount,
    ruleSetVersion: rules.version,
    ruleId: decidingRule,
    breakdown: lines,
    advice: adviseProgram(rules.advice, input),
  };
  if (minutes !== undefined) result.minutes = minutes;
  if (account?.payWithPoints && tier?.centsPerPoint !== undefined) {
    // A started point is a whole point: the room is never paid less than the price.
    result.pointsCents = Math.ceil(amount / tier.centsPerPoint);
  }
  return result;
}

/** A machine-specific rule beats a kind-wide one; among equals the first listed wins. */
function findBaseRule(base: readonly BaseRule[], machine: PriceInput['machine']): BaseRule | undefined {
  const candidates = base.filter((r) => r.kind === machine.kind && r.program === machine.program);
  return candidates.find((r) => r.machineIds?.includes(machine.id)) ?? candidates.find((r) => r.machineIds === undefined);
}

interface Scoped {
  kinds?: MachineKind[] | undefined;
  programs?: number[] | undefined;
  machineIds?: string[] | undefined;
}

function inScope(rule: Scoped, machine: PriceInput['machine']): boolean {
  return (
    (rule.kinds === undefined || rule.kinds.includes(machine.kind)) &&
    (rule.programs === undefined || rule.programs.includes(machine.program)) &&
    (rule.machineIds === undefined || rule.machineIds.includes(machine.id))
  );
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

/**
 * [from, to) on the listed days. A window with from > to runs past midnight and belongs to the
 * day it starts on (Fri 22:00–06:00 covers Saturday 05:59). from == to is the whole day.
 */
export function inWindow(w: TimeWindow, t: LocalTime): boolean {
  const from = minutesOf(w.from);
  const to = minutesOf(w.to);
  if (from === to) return w.days.includes(t.weekday);
  if (from < to) return w.days.includes(t.weekday) && t.minuteOfDay >= from && t.minuteOfDay < to;
  const yesterday = (t.weekday + 6) % 7;
  return (w.days.includes(t.weekday) && t.minuteOfDay >= from) || (w.days.includes(yesterday) && t.minuteOfDay < to);
}

/**
 * Percent steps floor to whole cents, discount and surcharge alike: a fraction of a cent always
 * goes to the customer. Integer math on basis points, so 12.5 % is exact.
 */
export function applyPercent(amountCents: number, pct: number, direction: 'discount' | 'surcharge'): number {
  const bp = Math.round(pct * 100);
  const factor = direction === 'discount' ? 10_000 - bp : 10_000 + bp;
  return Math.floor((amountCents * factor) / 10_000);
}

function memberPercent(tier: Tier, tenureMonths: number): number {
  let best = tier.percentOff;
  for (const s of tier.tenureSteps) if (tenureMonths >= s.minMonths && s.percentOff > best) best = s.percentOff;
  return best;
}

/** Advice is shown, never enforced: a rule with a load or hardness bound needs that reading. */
export function adviseProgram(rules: readonly AdviceRule[], input: PriceInput): Advice[] {
  const grams = input.loadWeightGrams ?? null;
  const load = grams !== null && grams > 0 ? grams : null;
  const hardness = input.waterHardnessDh ?? null;
  const out: Advice[] = [];
  for (const r of rules) {
    if (r.kinds && !r.kinds.includes(input.machine.kind)) continue;
    if (r.programs && !r.programs.includes(input.machine.program)) continue;
    if ((r.minLoadGrams !== undefined || r.maxLoadGrams !== undefined) && load === null) continue;
    if (load !== null && r.minLoadGrams !== undefined && load < r.minLoadGrams) continue;
    if (load !== null && r.maxLoadGrams !== undefined && load > r.maxLoadGrams) continue;
    if ((r.minHardnessDh !== undefined || r.maxHardnessDh !== undefined) && hardness === null) continue;
    if (hardness !== null && r.minHardnessDh !== undefined && hardness < r.minHardnessDh) continue;
    if (hardness !== null && r.maxHardnessDh !== undefined && hardness > r.maxHardnessDh) continue;
    if (r.suggestProgram === input.machine.program) continue;
    const a: Advice = { ruleId: r.id, message: r.message };
    if (r.suggestProgram !== undefined) a.suggestProgram = r.suggestProgram;
    out.push(a);
  }
  return out;
}

/** Wall-clock ms to the room's local weekday and minute, from the system's zone files (DST included; not Intl: gateway/core/time-zone.ts says why). */
export function toLocalTime(epochMs: number, timeZone: string): LocalTime {
  const p = localParts(epochMs, timeZone);
  return { weekday: p.weekday, minuteOfDay: p.hour * 60 + p.minute };
}
