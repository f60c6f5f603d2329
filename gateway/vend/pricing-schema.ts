// The room's price rules as data. They arrive from the cloud (or a local file) and are parsed
// here before pricing sees them, so pricing.ts can trust every field.
import { z } from 'zod';
import { isKnownTimeZone } from '../core/time-zone.js';

const id = z.string().min(1).max(64);
const cents = z.number().int().min(0).max(1_000_000);
/** Percent with at most two decimals (12.5 is fine); turned into basis points for integer math. */
const percent = z
  .number()
  .min(0)
  .max(100)
  .refine((p) => Math.abs(p * 100 - Math.round(p * 100)) < 1e-9, 'at most two decimals');
const machineKind = z.enum(['washer', 'dryer']);
const weekday = z.number().int().min(0).max(6); // 0 = Sunday, as Date#getDay
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'HH:MM, 00:00–24:00');

/** A window of local time on some weekdays. from > to wraps past midnight (22:00–06:00). */
export const timeWindowSchema = z.strictObject({
  days: z.array(weekday).min(1).default([0, 1, 2, 3, 4, 5, 6]),
  from: hhmm,
  to: hhmm,
});

const scope = {
  kinds: z.array(machineKind).min(1).optional(),
  programs: z.array(z.number().int().positive()).min(1).optional(),
  machineIds: z.array(id).min(1).optional(),
};

const washerBase = z.strictObject({
  id,
  kind: z.literal('washer'),
  program: z.number().int().positive(),
  /** When set, only these machines; such a rule beats a kind-wide rule for the same program. */
  machineIds: z.array(id).min(1).optional(),
  priceCents: cents,
});

const dryerBase = z.strictObject({
  id,
  kind: z.literal('dryer'),
  program: z.number().int().positive(),
  machineIds: z.array(id).min(1).optional(),
  stepMinutes: z.number().int().min(1).max(120),
  stepCents: cents,
  /** Price of a step bought with ADD_TIME while running; defaults to stepCents. */
  addTimeStepCents: cents.optional(),
  minSteps: z.number().int().min(1).default(1),
  maxSteps: z.number().int().min(1).default(12),
});

export const baseRuleSchema = z.discriminatedUnion('kind', [washerBase, dryerBase]);

const adjustment = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('percent'), direction: z.enum(['discount', 'surcharge']), percent }),
  z.strictObject({ type: z.literal('delta'), deltaCents: z.number().int().min(-100_000).max(100_000) }),
  z.strictObject({ type: z.literal('fixed'), priceCents: cents }),
]);

export const timeRuleSchema = z.strictObject({ id, ...scope, window: timeWindowSchema, adjust: adjustment });

const tenureStep = z.strictObject({ minMonths: z.number().int().min(0), percentOff: percent });

export const tierSchema = z.strictObject({
  id,
  /** Member discount on every vend of this tier. */
  percentOff: percent.default(0),
  /** Tenants: the discount grows with tenure; the best of percentOff and the matching step applies. */
  tenureSteps: z.array(tenureStep).default([]),
  /** Tenants: washes a calendar month included in the lease, priced 0. */
  includedWashesPerMonth: z.number().int().min(0).default(0),
  includedKinds: z.array(machineKind).min(1).default(['washer']),
  /** Gym members paying with points: how many cents one point is worth. */
  centsPerPoint: z.number().int().min(1).optional(),
});

export const nthFreeSchema = z.strictObject({ id, every: z.number().int().min(2), kinds: z.array(machineKind).min(1).default(['washer']) });

export const offPeakSchema = z.strictObject({ id, ...scope, windows: z.array(timeWindowSchema).min(1), percentOff: percent });

export const weightFeeSchema = z.strictObject({
  id,
  kinds: z.array(machineKind).min(1).default(['washer']),
  thresholdGrams: z.number().int().min(0),
  /** Per started kilogram over the threshold. */
  perKgCents: cents,
});

export const adviceRuleSchema = z.strictObject({
  id,
  kinds: z.array(machineKind).min(1).optional(),
  programs: z.array(z.number().int().positive()).min(1).optional(),
  minLoadGrams: z.number().int().min(0).optional(),
  maxLoadGrams: z.number().int().min(0).optional(),
  minHardnessDh: z.number().min(0).optional(),
  maxHardnessDh: z.number().min(0).optional(),
  message: z.string().min(1).max(200),
  suggestProgram: z.number().int().positive().optional(),
});

export const priceRulesSchema = z
  .strictObject({
    version: z.string().min(1).max(64),
    /** IANA zone of the room, for toLocalTime(); pricing itself takes the local time already resolved. */
    timeZone: z.string().refine(isKnownTimeZone, 'unknown IANA time zone (none of that name in /usr/share/zoneinfo)').default('UTC'),
    base: z.array(baseRuleSchema).min(1),
    timeRules: z.array(timeRuleSchema).default([]),
    weightFee: weightFeeSchema.optional(),
    tiers: z.array(tierSchema).default([]),
    promotions: z
      .strictObject({ nthFree: nthFreeSchema.optional(), offPeak: offPeakSchema.optional() })
      .default({}),
    advice: z.array(adviceRuleSchema).default([]),
  })
  .superRefine((rules, ctx) => {
    const ids = new Set<string>();
    const all = [
      ...rules.base.map((r) => r.id),
      ...rules.timeRules.map((r) => r.id),
      ...rules.tiers.map((r) => r.id),
      ...(rules.weightFee ? [rules.weightFee.id] : []),
      ...(rules.promotions.nthFree ? [rules.promotions.nthFree.id] : []),
      ...(rules.promotions.offPeak ? [rules.promotions.offPeak.id] : []),
    ];
    for (const ruleId of all) {
      if (ids.has(ruleId)) ctx.addIssue({ code: 'custom', message: `duplicate rule id ${ruleId}` });
      ids.add(ruleId);
    }
    for (const r of rules.base) {
      if (r.kind === 'dryer' && r.minSteps > r.maxSteps) ctx.addIssue({ code: 'custom', message: `${r.id}: minSteps > maxSteps` });
    }
  });

export type PriceRules = z.infer<typeof priceRulesSchema>;
export type PriceRulesInput = z.input<typeof priceRulesSchema>;
export type BaseRule = z.infer<typeof baseRuleSchema>;
export type TimeRule = z.infer<typeof timeRuleSchema>;
export type TimeWindow = z.infer<typeof timeWindowSchema>;
export type Tier = z.infer<typeof tierSchema>;
export type AdviceRule = z.infer<typeof adviceRuleSchema>;

/** Parses rules from outside (cloud, file); throws a ZodError naming every bad field. */
export function parsePriceRules(input: unknown): PriceRules {
  return priceRulesSchema.parse(input);
}
