import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assess, emptyRiskState, lockoutMs, parseRiskConfig, pruneRiskState, recordOutcome, riskStateSchema, type AssessInput, type RiskConfig, type RiskState } from '../../gateway/vend/risk.js';
import { countsAsFailure, isReasonCode, REASON_CODES, reasonForLw485Result, reasonForRejection } from '../../gateway/vend/reasons.js';

const UID = '04A2B9C1D25E80';
const T0 = 1_800_000_000_000;
const MIN = 60_000;

const config = parseRiskConfig({
  failures: { perCard: 3, perReader: 5, windowMs: 10 * MIN, lockoutBaseMs: MIN, lockoutFactor: 2, lockoutMaxMs: 8 * MIN, levelResetMs: 60 * MIN },
  velocity: { maxVends: 2, windowMs: 30 * MIN },
  offline: { cardCapCents: 1000, roomCapCents: 5000 },
});

function input(extra: Partial<AssessInput> = {}): AssessInput {
  return { now: T0, cardId: UID, readerId: 'R1', cardStatus: 'active', amountCents: 350, unsyncedCardCents: 0, unsyncedRoomCents: 0, ...extra };
}

function fail(state: RiskState, now: number, cardId: string | undefined = UID, readerId: string | undefined = 'R1'): RiskState {
  return recordOutcome(config, state, { now, outcome: 'failure', ...(cardId === undefined ? {} : { cardId }), ...(readerId === undefined ? {} : { readerId }) }).state;
}

test('config: defaults fill an empty block; bad values are refused', () => {
  const d = parseRiskConfig(undefined);
  assert.equal(d.failures.perCard, 5);
  assert.equal(d.velocity.maxVends, 4);
  assert.equal(d.offline.roomCapCents, 30_000);
  assert.equal(d.funds.floorCents, 0);
  assert.throws(() => parseRiskConfig({ funds: { floorCents: 100 } }), 'a floor above zero would be a minimum balance, not a floor');
  assert.equal(parseRiskConfig({ velocity: { maxVends: 9 } }).velocity.windowMs, 60 * MIN);
  assert.throws(() => parseRiskConfig({ offline: { cardCapCents: -1 } }));
  assert.throws(() => parseRiskConfig({ failures: { perCard: 0 } }));
});

test('a clean card is allowed', () => {
  assert.deepEqual(assess(config, emptyRiskState(), input()), { allow: true });
});

test('lost and blocked cards are declined with an alert that masks the UID', () => {
  const lost = assess(config, emptyRiskState(), input({ cardStatus: 'lost' }));
  assert.equal(lost.allow, false);
  assert.ok(!lost.allow && lost.reason === 'card_lost' && lost.alert?.severity === 'critical');
  assert.ok(!lost.allow && lost.alert?.card === '**********5E80');
  assert.ok(!JSON.stringify(lost).includes(UID));
  const blocked = assess(config, emptyRiskState(), input({ cardStatus: 'blocked' }));
  assert.ok(!blocked.allow && blocked.reason === 'card_blocked' && blocked.alert !== undefined);
  const unknown = assess(config, emptyRiskState(), input({ cardStatus: 'unknown' }));
  assert.ok(!unknown.allow && unknown.reason === 'unknown_card' && unknown.alert === undefined);
});

test('repeated failures lock the card out; the lockout ends after its time', () => {
  let s = emptyRiskState();
  s = fail(s, T0);
  s = fail(s, T0 + 1000);
  assert.equal(assess(config, s, input({ now: T0 + 2000 })).allow, true);
  const r = recordOutcome(config, s, { now: T0 + 2000, cardId: UID, readerId: 'R1', outcome: 'failure' });
  s = r.state;
  assert.equal(r.alerts.length, 1);
  assert.equal(r.alerts[0]?.code, 'lockout_started');
  assert.ok(!JSON.stringify(r.alerts).includes(UID));
  const locked = assess(config, s, input({ now: T0 + 2000 + MIN - 1 }));
  assert.ok(!locked.allow && locked.reason === 'locked_out');
  assert.equal(assess(config, s, input({ now: T0 + 2000 + MIN })).allow, true);
  assert.equal(assess(config, s, input({ now: T0 + 2000, cardId: 'OTHERCARD' })).allow, true, 'other cards at the reader go on');
});

test('failures outside the window expire and do not add up', () => {
  let s = emptyRiskState();
  s = fail(s, T0);
  s = fail(s, T0 + 5 * MIN);
  s = fail(s, T0 + 10 * MIN + 1);
  assert.equal(assess(config, s, input({ now: T0 + 10 * MIN + 2 })).allow, true);
  s = fail(s, T0 + 10 * MIN + 2);
  const out = assess(config, s, input({ now: T0 + 10 * MIN + 3 }));
  assert.ok(!out.allow && out.reason === 'locked_out');
});

test('backoff grows with each lockout up to the maximum, and resets after a quiet period or a good vend', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 9].map((l) => lockoutMs(config, l)), [MIN, 2 * MIN, 4 * MIN, 8 * MIN, 8 * MIN, 8 * MIN]);
  let s = emptyRiskState();
  let now = T0;
  const lockedFor: number[] = [];
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 3; i++) s = fail(s, now++, UID, undefined);
    const until = s.cards[UID]?.lockedUntil ?? 0;
    lockedFor.push(until - (now - 1));
    now = until + 1;
  }
  assert.deepEqual(lockedFor, [MIN, 2 * MIN, 4 * MIN, 8 * MIN, 8 * MIN]);

  // Quiet for longer than levelResetMs: back to the first step.
  now += 61 * MIN;
  for (let i = 0; i < 3; i++) s = fail(s, now++, UID, undefined);
  assert.equal((s.cards[UID]?.lockedUntil ?? 0) - (now - 1), MIN);

  // A good vend forgets failures and level.
  now = (s.cards[UID]?.lockedUntil ?? 0) + 1;
  s = fail(s, now++, UID, undefined);
  s = recordOutcome(config, s, { now: now++, cardId: UID, outcome: 'vend' }).state;
  assert.equal(s.cards[UID]?.failures.length, 0);
  assert.equal(s.cards[UID]?.level, 0);
});

test('attempts during a lockout do not extend it', () => {
  let s = emptyRiskState();
  for (let i = 0; i < 3; i++) s = fail(s, T0 + i, UID, undefined);
  const until = s.cards[UID]?.lockedUntil;
  for (let i = 0; i < 10; i++) s = fail(s, T0 + 100 + i, UID, undefined);
  assert.equal(s.cards[UID]?.lockedUntil, until);
  assert.equal(s.cards[UID]?.level, 1);
});

test('a reader probed with many cards is locked out for every card', () => {
  let s = emptyRiskState();
  let alerts = 0;
  for (let i = 0; i < 5; i++) {
    const r = recordOutcome(config, s, { now: T0 + i, cardId: `CARD000${i}`, readerId: 'R1', outcome: 'failure' });
    s = r.state;
    alerts += r.alerts.filter((a) => a.readerId === 'R1' && a.card === undefined).length;
  }
  assert.equal(alerts, 1);
  const out = assess(config, s, input({ now: T0 + 10 }));
  assert.ok(!out.allow && out.reason === 'locked_out');
  assert.equal(assess(config, s, input({ now: T0 + 10, readerId: 'R2' })).allow, true);
});

test('velocity: more vends in the window than allowed is declined with an alert; the window slides', () => {
  let s = emptyRiskState();
  s = recordOutcome(config, s, { now: T0, cardId: UID, outcome: 'vend' }).state;
  s = recordOutcome(config, s, { now: T0 + 10 * MIN, cardId: UID, outcome: 'vend' }).state;
  const out = assess(config, s, input({ now: T0 + 20 * MIN }));
  assert.ok(!out.allow && out.reason === 'velocity' && out.alert?.code === 'velocity');
  assert.equal(assess(config, s, input({ now: T0 + 30 * MIN })).allow, true, 'the first vend has left the window');
});

test('offline exposure caps per card and per room include this vend', () => {
  const s = emptyRiskState();
  assert.equal(assess(config, s, input({ unsyncedCardCents: 650 })).allow, true);
  const card = assess(config, s, input({ unsyncedCardCents: 651 }));
  assert.ok(!card.allow && card.reason === 'offline_cap_card');
  assert.equal(assess(config, s, input({ unsyncedRoomCents: 4650 })).allow, true);
  const roomCap = assess(config, s, input({ unsyncedRoomCents: 4651 }));
  assert.ok(!roomCap.allow && roomCap.reason === 'offline_cap_room' && roomCap.alert !== undefined);
});

test('insufficient funds only when a balance is given', () => {
  const s = emptyRiskState();
  assert.equal(assess(config, s, input({ availableCents: 350 })).allow, true);
  const out = assess(config, s, input({ availableCents: 349 }));
  assert.ok(!out.allow && out.reason === 'insufficient_funds');
});

test('check order: lost beats lockout beats unknown beats velocity beats caps beats funds', () => {
  let s = emptyRiskState();
  for (let i = 0; i < 3; i++) s = fail(s, T0 + i, UID, undefined);
  s = recordOutcome(config, s, { now: T0 + 3, cardId: 'V', outcome: 'vend' }).state;
  s = recordOutcome(config, s, { now: T0 + 4, cardId: 'V', outcome: 'vend' }).state;
  const reason = (x: Partial<AssessInput>): string => {
    const a = assess(config, s, input({ now: T0 + 10, ...x }));
    return a.allow ? 'allow' : a.reason;
  };
  assert.equal(reason({ cardStatus: 'lost' }), 'card_lost');
  assert.equal(reason({ cardStatus: 'blocked' }), 'card_blocked');
  assert.equal(reason({ cardStatus: 'unknown' }), 'locked_out');
  assert.equal(reason({ cardId: 'X', cardStatus: 'unknown', unsyncedCardCents: 99_999 }), 'unknown_card');
  assert.equal(reason({ cardId: 'V', unsyncedCardCents: 99_999 }), 'velocity');
  assert.equal(reason({ cardId: 'X', unsyncedCardCents: 99_999, unsyncedRoomCents: 99_999, availableCents: 0 }), 'offline_cap_card');
  assert.equal(reason({ cardId: 'X', unsyncedRoomCents: 99_999, availableCents: 0 }), 'offline_cap_room');
  assert.equal(reason({ cardId: 'X', availableCents: 0 }), 'insufficient_funds');
});

test('recordOutcome does not change the state it was given; prune drops what has expired', () => {
  const s0 = emptyRiskState();
  const s1 = fail(s0, T0);
  assert.deepEqual(s0, emptyRiskState());
  assert.equal(s1.cards[UID]?.failures.length, 1);
  const pruned = pruneRiskState(config, s1, T0 + 11 * MIN);
  assert.deepEqual(pruned, emptyRiskState());
  let v = recordOutcome(config, s0, { now: T0, cardId: UID, outcome: 'vend' }).state;
  v = pruneRiskState(config, v, T0 + 29 * MIN);
  assert.equal(v.cards[UID]?.vends.length, 1);
  assert.deepEqual(pruneRiskState(config, v, T0 + 30 * MIN), emptyRiskState());
});

test('a persisted state round-trips through JSON and the schema', () => {
  let s = emptyRiskState();
  for (let i = 0; i < 4; i++) s = fail(s, T0 + i);
  const back = riskStateSchema.parse(JSON.parse(JSON.stringify(s)));
  assert.deepEqual(back, s);
  assert.throws(() => riskStateSchema.parse({ cards: { x: { failures: [-1] } }, readers: {} }));
});

test('property: a card never gets more than perCard failures in without a lockout, nor more vends than the velocity limit', () => {
  const cfg: RiskConfig = config;
  fc.assert(
    fc.property(fc.array(fc.record({ dt: fc.integer({ min: 0, max: 5 * MIN }), kind: fc.constantFrom('failure', 'vend', 'try') }), { maxLength: 60 }), (steps) => {
      let s = emptyRiskState();
      let now = T0;
      for (const st of steps) {
        now += st.dt;
        const a = assess(cfg, s, input({ now, readerId: 'R9' }));
        if (st.kind === 'vend') {
          if (a.allow) s = recordOutcome(cfg, s, { now, cardId: UID, outcome: 'vend' }).state;
        } else if (st.kind === 'failure') {
          s = recordOutcome(cfg, s, { now, cardId: UID, readerId: 'R9', outcome: 'failure' }).state;
        }
        const c = s.cards[UID];
        if (c) {
          assert.ok(c.failures.length < cfg.failures.perCard);
          assert.ok(c.vends.filter((t) => t > now - cfg.velocity.windowMs).length <= cfg.velocity.maxVends);
        }
      }
    }),
    { numRuns: 300 },
  );
});

test('reason codes: one list, profile reasons and LW-485 results map into it', () => {
  assert.equal(new Set(REASON_CODES).size, REASON_CODES.length, 'no duplicates');
  for (const r of ['unknown_card', 'card_blocked', 'card_lost', 'insufficient_funds', 'locked_out', 'velocity', 'offline_cap_card', 'offline_cap_room', 'machine_offline', 'machine_busy', 'door_open', 'machine_fault', 'unknown_program', 'not_allowed', 'credit_rejected', 'credit_timeout']) {
    assert.ok(isReasonCode(r), r);
  }
  for (const r of ['bad_format', 'bad_signature', 'unknown_key', 'wrong_room', 'not_yet_valid', 'expired', 'replayed', 'wrong_machine', 'over_amount']) assert.ok(isReasonCode(r), r);
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 99].map(reasonForLw485Result), [null, 'machine_busy', 'door_open', 'machine_fault', 'unknown_program', 'bad_argument', 'not_allowed', 'credit_rejected']);
  assert.deepEqual(
    ['busy', 'door_open', 'fault', 'unknown_program', 'bad_argument', 'not_allowed', 'in_use', 'device_exception', 'unreachable', 'not_executed', 'something-new', undefined].map(reasonForRejection),
    ['machine_busy', 'door_open', 'machine_fault', 'unknown_program', 'bad_argument', 'not_allowed', 'machine_busy', 'credit_rejected', 'machine_offline', 'not_executed', 'credit_rejected', 'credit_rejected'],
  );
  assert.ok(countsAsFailure('bad_signature'));
  assert.ok(!countsAsFailure('machine_busy'));
  assert.ok(!countsAsFailure('offline_cap_room'));
});
