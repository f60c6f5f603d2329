// Turns what the ledger knows of an account into pricing's account input: included washes used
// this month, tenure in whole months, vends counted for every-Nth-free. Pure: the caller passes
// the ledger's numbers and the time.
import type { AccountUsage } from '../../storage/index.js';
import { localParts } from '../core/time-zone.js';
import type { PriceAccount } from '../vend/pricing.js';
import type { PriceRules } from '../vend/pricing-schema.js';

interface LocalDate {
  year: number;
  month: number; // 1..12
  day: number;
  /** ms since local midnight. */
  msOfDay: number;
}

/** The room's calendar date from the system's zone files (not Intl: gateway/core/time-zone.ts). */
function localDate(timeZone: string, epochMs: number): LocalDate {
  return localParts(epochMs, timeZone);
}

/**
 * The first instant of the local calendar month that epochMs falls in. A bisection on "is the
 * local date already in this month" rather than offset arithmetic, so a DST change on the 1st
 * (even one that skips local midnight) cannot put the boundary an hour off.
 */
export function localMonthStartMs(epochMs: number, timeZone: string): number {
  const { year, month } = localDate(timeZone, epochMs);
  const inMonth = (t: number): boolean => {
    const d = localDate(timeZone, t);
    return d.year > year || (d.year === year && d.month >= month);
  };
  // Zone offsets lie within -12 h … +14 h of UTC.
  const wall = Date.UTC(year, month - 1, 1);
  let lo = wall - 15 * 3_600_000; // not yet in the month
  let hi = Math.min(epochMs, wall + 15 * 3_600_000); // in the month
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (inMonth(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * Whole months from sinceMs to nowMs on the room's calendar: a month is complete on the same
 * day-of-month and time (Jan 31 -> Feb 28 is 0 months, -> Mar 1 is 1). Never negative.
 */
export function tenureMonths(sinceMs: number, nowMs: number, timeZone: string): number {
  if (nowMs <= sinceMs) return 0;
  const a = localDate(timeZone, sinceMs);
  const b = localDate(timeZone, nowMs);
  let months = (b.year - a.year) * 12 + (b.month - a.month);
  if (b.day < a.day || (b.day === a.day && b.msOfDay < a.msOfDay)) months -= 1;
  return Math.max(0, months);
}

/**
 * Pricing's view of an account. Included washes used = washes this month (every captured wash
 * uses one while any are left). lifetimeVends counts the kinds every-Nth-free is for, so
 * "every 10th wash" is not moved by dryer vends. Points payment is not offered (docs/vend-engine.md).
 */
export function priceAccount(rules: PriceRules, tier: string, usage: AccountUsage, nowMs: number): PriceAccount {
  const nthKinds = rules.promotions.nthFree?.kinds;
  const lifetime = nthKinds === undefined ? usage.lifetimeVends : nthKinds.reduce((n, k) => n + usage.lifetimeByKind[k], 0);
  return {
    tier,
    ...(usage.memberSinceMs !== null ? { tenureMonths: tenureMonths(usage.memberSinceMs, nowMs, rules.timeZone) } : {}),
    washesThisMonth: usage.washesThisMonth,
    includedWashesUsed: usage.washesThisMonth,
    lifetimeVends: lifetime,
  };
}
