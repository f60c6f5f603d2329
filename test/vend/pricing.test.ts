import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parsePriceRules, type PriceRulesInput } from '../../gateway/vend/pricing-schema.js';
import { applyPercent, inWindow, priceVend, toLocalTime, type PriceInput, type PriceResult } from '../../gateway/vend/pricing.js';

// Weekday 3 = Wednesday; 12:00 is peak, 07:00 off-peak.
const NOON_WED = { weekday: 3, minuteOfDay: 12 * 60 };
const MORNING_WED = { weekday: 3, minuteOfDay: 7 * 60 };

function room(extra: Partial<PriceRulesInput> = {}): PriceRulesInput {
  return {
    version: 'room-7@2026-11-01',
    timeZone: 'Europe/Berlin',
    base: [
      { id: 'w-quick', kind: 'washer', program: 1, priceCents: 250 },
      { id: 'w-normal', kind: 'washer', program: 2, priceCents: 350 },
      { id: 'w-hot', kind: 'washer', program: 3, priceCents: 450 },
      { id: 'w-normal-big', kind: 'washer', program: 2, machineIds: ['W9'], priceCents: 500 },
      { id: 'd-low', kind: 'dryer', program: 1, stepMinutes: 10, stepCents: 100, addTimeStepCents: 80, maxSteps: 6 },
    ],
    ...extra,
  };
}

function ok(r: PriceResult): Extract<PriceResult, { ok: true }> {
  if (!r.ok) assert.fail(`expected a price, got ${r.reason}: ${r.detail}`);
  return r;
}

const washer = (program = 2, id = 'W1'): PriceInput['machine'] => ({ id, kind: 'washer', program });

test('base price per kind and program; a machine-specific rule beats the kind-wide one', () => {
  const rules = parsePriceRules(room());
  const r = ok(priceVend(rules, { machine: washer(2), localTime: NOON_WED }));
  assert.equal(r.amountCents, 350);
  assert.equal(r.ruleId, 'w-normal');
  assert.equal(r.ruleSetVersion, 'room-7@2026-11-01');
  assert.deepEqual(r.breakdown.map((l) => l.kind), ['base']);
  const big = ok(priceVend(rules, { machine: washer(2, 'W9'), localTime: NOON_WED }));
  assert.equal(big.amountCents, 500);
  assert.equal(big.ruleId, 'w-normal-big');
});

test('unknown program and bad arguments are refusals, not prices', () => {
  const rules = parsePriceRules(room());
  const r = priceVend(rules, { machine: washer(6), localTime: NOON_WED });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.reason, 'unknown_program');
  assert.equal(priceVend(rules, { machine: { ...washer(2), minutes: 10 }, localTime: NOON_WED }).ok, false);
  assert.equal(priceVend(rules, { machine: { ...washer(2), addTime: true }, localTime: NOON_WED }).ok, false);
  const tooLong = priceVend(rules, { machine: { id: 'D1', kind: 'dryer', program: 1, minutes: 70 }, localTime: NOON_WED });
  assert.equal(!tooLong.ok && tooLong.reason, 'bad_argument');
});

test('dryers: minutes round up to whole steps; add-time has its own step price', () => {
  const rules = parsePriceRules(room());
  const d = (minutes: number | undefined, addTime = false): Extract<PriceResult, { ok: true }> =>
    ok(priceVend(rules, { machine: { id: 'D1', kind: 'dryer', program: 1, addTime, ...(minutes === undefined ? {} : { minutes }) }, localTime: NOON_WED }));
  assert.deepEqual([d(10).amountCents, d(10).minutes], [100, 10]);
  assert.deepEqual([d(25).amountCents, d(25).minutes], [300, 30]);
  assert.deepEqual([d(undefined).amountCents, d(undefined).minutes], [100, 10]);
  assert.deepEqual([d(20, true).amountCents, d(20, true).minutes], [160, 20]);
  const withMin = parsePriceRules(room({ base: [{ id: 'd', kind: 'dryer', program: 1, stepMinutes: 10, stepCents: 100, minSteps: 3 }] }));
  const m = (addTime: boolean): Extract<PriceResult, { ok: true }> => ok(priceVend(withMin, { machine: { id: 'D1', kind: 'dryer', program: 1, minutes: 10, addTime }, localTime: NOON_WED }));
  assert.deepEqual([m(false).amountCents, m(false).minutes], [300, 30], 'a new cycle buys at least minSteps');
  assert.deepEqual([m(true).amountCents, m(true).minutes], [100, 10], 'add-time may buy one step');
});

test('time-of-day: first matching rule only; windows wrap midnight on the start day', () => {
  const rules = parsePriceRules(
    room({
      timeRules: [
        { id: 'peak', kinds: ['washer'], window: { days: [1, 2, 3, 4, 5], from: '11:00', to: '14:00' }, adjust: { type: 'percent', direction: 'surcharge', percent: 10 } },
        { id: 'lunch-flat', window: { from: '11:00', to: '14:00' }, adjust: { type: 'fixed', priceCents: 100 } },
        { id: 'night', window: { days: [5], from: '22:00', to: '06:00' }, adjust: { type: 'delta', deltaCents: -50 } },
      ],
    }),
  );
  const peak = ok(priceVend(rules, { machine: washer(2), localTime: NOON_WED }));
  assert.equal(peak.amountCents, 385);
  assert.equal(peak.ruleId, 'peak');
  const dryer = ok(priceVend(rules, { machine: { id: 'D1', kind: 'dryer', program: 1, minutes: 30 }, localTime: NOON_WED }));
  assert.equal(dryer.amountCents, 100, 'the dryer is not in scope of peak: lunch-flat applies');
  assert.equal(ok(priceVend(rules, { machine: washer(2), localTime: { weekday: 5, minuteOfDay: 23 * 60 } })).amountCents, 300);
  assert.equal(ok(priceVend(rules, { machine: washer(2), localTime: { weekday: 6, minuteOfDay: 5 * 60 + 59 } })).amountCents, 300);
  assert.equal(ok(priceVend(rules, { machine: washer(2), localTime: { weekday: 6, minuteOfDay: 6 * 60 } })).amountCents, 350);
  assert.equal(ok(priceVend(rules, { machine: washer(2), localTime: { weekday: 5, minuteOfDay: 5 * 60 } })).amountCents, 350, 'Friday early morning belongs to Thursday night, not listed');
});

test('inWindow: from == to is the whole day, the end is exclusive', () => {
  assert.ok(inWindow({ days: [2], from: '00:00', to: '00:00' }, { weekday: 2, minuteOfDay: 1439 }));
  assert.ok(!inWindow({ days: [2], from: '00:00', to: '00:00' }, { weekday: 3, minuteOfDay: 0 }));
  assert.ok(!inWindow({ days: [2], from: '08:00', to: '09:00' }, { weekday: 2, minuteOfDay: 9 * 60 }));
  assert.ok(inWindow({ days: [2], from: '08:00', to: '24:00' }, { weekday: 2, minuteOfDay: 1439 }));
});

test('weight fee per started kg over the threshold, only where a load is reported', () => {
  const rules = parsePriceRules(room({ weightFee: { id: 'heavy', thresholdGrams: 6000, perKgCents: 40 } }));
  const at = (g: number | null): number => ok(priceVend(rules, { machine: washer(2), localTime: NOON_WED, loadWeightGrams: g })).amountCents;
  assert.equal(at(null), 350);
  assert.equal(at(0), 350);
  assert.equal(at(6000), 350);
  assert.equal(at(6001), 390);
  assert.equal(at(8000), 430);
  const r = ok(priceVend(rules, { machine: washer(2), localTime: NOON_WED, loadWeightGrams: 7500 }));
  assert.equal(r.ruleId, 'heavy');
});

const tiers: PriceRulesInput['tiers'] = [
  { id: 'gym', percentOff: 10, centsPerPoint: 5 },
  {
    id: 'tenant',
    includedWashesPerMonth: 2,
    tenureSteps: [
      { minMonths: 12, percentOff: 5 },
      { minMonths: 36, percentOff: 15 },
    ],
  },
];

test('member tiers: gym discount and points; tenants get included washes then a tenure discount', () => {
  const rules = parsePriceRules(room({ tiers }));
  const gym = ok(priceVend(rules, { machine: washer(2), localTime: NOON_WED, account: { tier: 'gym', payWithPoints: true } }));
  assert.equal(gym.amountCents, 315);
  assert.equal(gym.pointsCents, 63);
  assert.equal(gym.ruleId, 'gym');
  const gymBalance = ok(priceVend(rules, { machine: washer(1), localTime: NOON_WED, account: { tier: 'gym' } }));
  assert.equal(gymBalance.amountCents, 225);
  assert.equal(gymBalance.pointsCents, undefined);

  const tenant = (tenureMonths: number, used: number): Extract<PriceResult, { ok: true }> =>
    ok(priceVend(rules, { machine: washer(2), localTime: NOON_WED, account: { tier: 'tenant', tenureMonths, includedWashesUsed: used } }));
  assert.equal(tenant(1, 0).amountCents, 0);
  assert.equal(tenant(1, 0).ruleId, 'tenant:included');
  assert.equal(tenant(1, 1).amountCents, 0);
  assert.equal(tenant(1, 2).amountCents, 350);
  assert.equal(tenant(12, 2).amountCents, 332, '5 % off 350 = 332.5, floored');
  assert.equal(tenant(40, 2).amountCents, 297, '15 % off 350 = 297.5, floored');
  const dryer = ok(priceVend(rules, { machine: { id: 'D1', kind: 'dryer', program: 1, minutes: 10 }, localTime: NOON_WED, account: { tier: 'tenant', includedWashesUsed: 0 } }));
  assert.equal(dryer.amountCents, 100, 'included washes are washers only by default');
  const viaMonthCount = ok(priceVend(rules, { machine: washer(2), localTime: NOON_WED, account: { tier: 'tenant', washesThisMonth: 5 } }));
  assert.equal(viaMonthCount.amountCents, 350, 'washesThisMonth stands in for includedWashesUsed');
  const unknownTier = ok(priceVend(rules, { machine: washer(2), localTime: NOON_WED, account: { tier: 'nope' } }));
  assert.equal(unknownTier.amountCents, 350);
});

test('promotions: every Nth wash free per account; off-peak discount', () => {
  const rules = parsePriceRules(
    room({ promotions: { nthFree: { id: 'tenth-free', every: 10 }, offPeak: { id: 'early-bird', windows: [{ from: '06:00', to: '09:00' }], percentOff: 20 } } }),
  );
  const nth = (lifetimeVends: number): number => ok(priceVend(rules, { machine: washer(2), localTime: NOON_WED, account: { lifetimeVends } })).amountCents;
  assert.equal(nth(8), 350);
  assert.equal(nth(9), 0);
  assert.equal(nth(19), 0);
  assert.equal(nth(10), 350);
  assert.equal(ok(priceVend(rules, { machine: washer(2), localTime: NOON_WED })).amountCents, 350, 'no account, no Nth-free');
  const early = ok(priceVend(rules, { machine: washer(2), localTime: MORNING_WED }));
  assert.equal(early.amountCents, 280);
  assert.equal(early.ruleId, 'early-bird');
  const addTime = ok(priceVend(rules, { machine: { id: 'D1', kind: 'dryer', program: 1, minutes: 10, addTime: true }, localTime: NOON_WED, account: { lifetimeVends: 9 } }));
  assert.equal(addTime.amountCents, 80, 'add-time is not a wash');
});

test('combination order: base → time → weight → member → off-peak → free, each step on the previous', () => {
  const rules = parsePriceRules(
    room({
      timeRules: [{ id: 'weekend', window: { days: [0, 6], from: '00:00', to: '00:00' }, adjust: { type: 'percent', direction: 'surcharge', percent: 12.5 } }],
      weightFee: { id: 'heavy', thresholdGrams: 6000, perKgCents: 40 },
      tiers,
      promotions: { nthFree: { id: 'tenth-free', every: 10 }, offPeak: { id: 'early-bird', windows: [{ days: [6], from: '06:00', to: '09:00' }], percentOff: 20 } },
    }),
  );
  const input: PriceInput = { machine: washer(3), localTime: { weekday: 6, minuteOfDay: 7 * 60 }, loadWeightGrams: 7200, account: { tier: 'gym', lifetimeVends: 3 } };
  const r = ok(priceVend(rules, input));
  // 450 → +12.5 % = 506.25 → 506 → +2 kg × 40 = 586 → −10 % = 527.4 → 527 → −20 % = 421.6 → 421
  assert.deepEqual(
    r.breakdown.map((l) => [l.kind, l.ruleId, l.amountAfterCents]),
    [
      ['base', 'w-hot', 450],
      ['time', 'weekend', 506],
      ['weight', 'heavy', 586],
      ['member', 'gym', 527],
      ['off-peak', 'early-bird', 421],
    ],
  );
  assert.equal(r.amountCents, 421);
  assert.equal(r.ruleId, 'early-bird');
  const free = ok(priceVend(rules, { ...input, account: { tier: 'gym', lifetimeVends: 9 } }));
  assert.equal(free.amountCents, 0);
  assert.equal(free.ruleId, 'tenth-free');
  assert.equal(free.breakdown.at(-1)?.deltaCents, -421);
});

test('rounding: percent steps floor to whole cents, exact in basis points', () => {
  assert.equal(applyPercent(350, 5, 'discount'), 332);
  assert.equal(applyPercent(333, 12.5, 'surcharge'), 374);
  assert.equal(applyPercent(100, 12.34, 'discount'), 87);
  assert.equal(applyPercent(0, 50, 'discount'), 0);
  assert.equal(applyPercent(999, 100, 'discount'), 0);
});

test('prices are never negative: a large negative delta clamps to 0', () => {
  const rules = parsePriceRules(room({ timeRules: [{ id: 'giveaway', window: { from: '00:00', to: '00:00' }, adjust: { type: 'delta', deltaCents: -10_000 } }] }));
  const r = ok(priceVend(rules, { machine: washer(2), localTime: NOON_WED }));
  assert.equal(r.amountCents, 0);
});

test('property: any valid combination prices to whole non-negative cents, never above the undiscounted maximum', () => {
  const rules = parsePriceRules(
    room({
      timeRules: [{ id: 'peak', window: { from: '11:00', to: '14:00' }, adjust: { type: 'percent', direction: 'surcharge', percent: 10 } }],
      weightFee: { id: 'heavy', thresholdGrams: 6000, perKgCents: 40 },
      tiers,
      promotions: { nthFree: { id: 'n', every: 7 }, offPeak: { id: 'op', windows: [{ from: '20:00', to: '06:00' }], percentOff: 33.33 } },
    }),
  );
  fc.assert(
    fc.property(
      fc.constantFrom(1, 2, 3),
      fc.integer({ min: 0, max: 6 }),
      fc.integer({ min: 0, max: 1439 }),
      fc.option(fc.integer({ min: 0, max: 20_000 })),
      fc.option(fc.record({ tier: fc.constantFrom('gym', 'tenant', 'none'), tenureMonths: fc.nat(100), includedWashesUsed: fc.nat(5), lifetimeVends: fc.nat(100), payWithPoints: fc.boolean() })),
      (program, weekday, minuteOfDay, grams, account) => {
        const r = priceVend(rules, { machine: washer(program), localTime: { weekday, minuteOfDay }, loadWeightGrams: grams, ...(account ? { account } : {}) });
        assert.ok(r.ok);
        assert.ok(Number.isInteger(r.amountCents) && r.amountCents >= 0);
        const ceiling = Math.floor(((program === 1 ? 250 : program === 2 ? 350 : 450) + Math.ceil(Math.max(0, (grams ?? 0) - 6000) / 1000) * 40) * 1.1) + 1;
        assert.ok(r.amountCents <= ceiling);
        assert.equal(r.breakdown.at(-1)?.amountAfterCents, r.amountCents);
        if (r.pointsCents !== undefined) assert.ok(r.pointsCents * 5 >= r.amountCents);
      },
    ),
    { numRuns: 300 },
  );
});

test('advice from load weight and water hardness is shown, not forced', () => {
  const rules = parsePriceRules(
    room({
      advice: [
        { id: 'light', kinds: ['washer'], programs: [2, 3], maxLoadGrams: 2500, message: 'Light load: QUICK is enough', suggestProgram: 1 },
        { id: 'hard', kinds: ['washer'], minHardnessDh: 14, message: 'Hard water: use HOT or more detergent', suggestProgram: 3 },
      ],
    }),
  );
  const r = ok(priceVend(rules, { machine: washer(2), localTime: NOON_WED, loadWeightGrams: 2000, waterHardnessDh: 18 }));
  assert.deepEqual(r.advice.map((a) => [a.ruleId, a.suggestProgram]), [['light', 1], ['hard', 3]]);
  assert.equal(r.amountCents, 350, 'the chosen program is priced as chosen');
  assert.deepEqual(ok(priceVend(rules, { machine: washer(2), localTime: NOON_WED, loadWeightGrams: null, waterHardnessDh: null })).advice, []);
  assert.deepEqual(ok(priceVend(rules, { machine: washer(3), localTime: NOON_WED, waterHardnessDh: 20 })).advice, [], 'already HOT: nothing to suggest');
  assert.deepEqual(ok(priceVend(rules, { machine: washer(2), localTime: NOON_WED, loadWeightGrams: 0 })).advice, [], '0 g is no load cell');
});

test('schema: rejects negative prices, unknown zones, duplicate ids, bad times; defaults fill the rest', () => {
  assert.throws(() => parsePriceRules(room({ base: [{ id: 'x', kind: 'washer', program: 1, priceCents: -1 }] })));
  assert.throws(() => parsePriceRules(room({ timeZone: 'Mars/Olympus' })));
  assert.throws(() => parsePriceRules(room({ base: [{ id: 'x', kind: 'washer', program: 1, priceCents: 1 }, { id: 'x', kind: 'washer', program: 2, priceCents: 1 }] })));
  assert.throws(() => parsePriceRules(room({ timeRules: [{ id: 't', window: { from: '25:00', to: '01:00' }, adjust: { type: 'fixed', priceCents: 1 } }] })));
  assert.throws(() => parsePriceRules(room({ tiers: [{ id: 'g', percentOff: 10.001 }] })));
  assert.throws(() => parsePriceRules({ version: 'v' }));
  const r = parsePriceRules({ version: 'v', base: [{ id: 'a', kind: 'washer', program: 1, priceCents: 1 }] });
  assert.equal(r.timeZone, 'UTC');
  assert.deepEqual(r.timeRules, []);
});

test('toLocalTime uses the IANA zone, daylight saving included', () => {
  // 2026-07-01T10:30Z is a Wednesday, 12:30 in Berlin (CEST, +2); 2026-12-02T10:30Z is 11:30 (CET, +1).
  assert.deepEqual(toLocalTime(Date.UTC(2026, 6, 1, 10, 30), 'Europe/Berlin'), { weekday: 3, minuteOfDay: 12 * 60 + 30 });
  assert.deepEqual(toLocalTime(Date.UTC(2026, 11, 2, 10, 30), 'Europe/Berlin'), { weekday: 3, minuteOfDay: 11 * 60 + 30 });
  assert.deepEqual(toLocalTime(Date.UTC(2026, 11, 2, 23, 30), 'UTC'), { weekday: 3, minuteOfDay: 23 * 60 + 30 });
  assert.deepEqual(toLocalTime(Date.UTC(2026, 11, 2, 23, 30), 'Asia/Tokyo'), { weekday: 4, minuteOfDay: 8 * 60 + 30 });
});
