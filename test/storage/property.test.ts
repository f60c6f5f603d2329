// Model-based property test: random sequences of ledger operations against a tiny in-memory
// model. After every step the derived balances equal the model's; at the end every hold has
// ended in at most one capture or refund, accepted holds never took a balance below its floor,
// the audit chain verifies and the cross-table self-check is clean. Pruning settled history
// never changes a balance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cardHold, openTestLedger, tempDir } from './helpers.js';

const ACCOUNTS = ['p', 'q'] as const;

type Op =
  | { op: 'topup'; acct: number; amount: number; cloud: number }
  | { op: 'snapshot'; acct: number; bump: number; balance: number }
  | { op: 'hold'; acct: number; amount: number; floor: number }
  | { op: 'qr'; token: number }
  | { op: 'send'; vend: number }
  | { op: 'capture'; vend: number; amount: number | null }
  | { op: 'refund'; vend: number; amount: number | null }
  | { op: 'ack'; back: number }
  | { op: 'dead'; back: number }
  | { op: 'prune'; settle: boolean };

const idx = (n: number) => fc.nat({ max: n - 1 });
const cents = fc.integer({ min: 0, max: 20 }).map((x) => x * 25);
// vend: how far back from the newest vend (0 = the newest), so steps usually hit live vends.
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('topup' as const), acct: idx(2), amount: fc.integer({ min: 1, max: 1000 }), cloud: idx(6) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('snapshot' as const), acct: idx(2), bump: fc.integer({ min: -1, max: 2 }), balance: fc.integer({ min: -200, max: 2000 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('hold' as const), acct: idx(2), amount: cents, floor: fc.constantFrom(0, -100, -1000, 100) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('qr' as const), token: idx(4) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('send' as const), vend: idx(3) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('capture' as const), vend: idx(3), amount: fc.option(cents, { nil: null }) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('refund' as const), vend: idx(3), amount: fc.option(cents, { nil: null }) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('ack' as const), back: fc.nat({ max: 3 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('dead' as const), back: fc.nat({ max: 3 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('prune' as const), settle: fc.boolean() }), weight: 2 },
);

interface ModelVend {
  id: string;
  acct: string | null;
  amount: number;
  state: 'held' | 'credit_sent' | 'captured' | 'refunded';
}

function runScenario(ops: readonly Op[], path: string): void {
  const l = openTestLedger(path);
  try {
    const bal = new Map<string, number>();
    const version = new Map<string, number>();
    const clouds = new Map<number, string>();
    const topUpVersion = new Map<number, number>();
    const tokens = new Set<number>();
    const vends: ModelVend[] = [];
    for (const o of ops) {
      switch (o.op) {
        case 'topup': {
          // A re-delivery is the same message: a cloud id belongs to the account it was first sent
          // for (ids of top-ups a snapshot covers are forgotten, the version rule refuses them).
          const acct = clouds.get(o.cloud) ?? ACCOUNTS[o.acct] ?? 'p';
          // A fresh top-up is booked after the account's last snapshot; a re-delivery carries its first version.
          const accountVersion = topUpVersion.get(o.cloud) ?? (version.get(acct) ?? 0) + 1;
          topUpVersion.set(o.cloud, accountVersion);
          const r = l.applyTopUp({ cloudId: `c${o.cloud}`, accountId: acct, amountCents: o.amount, accountVersion });
          const seen = clouds.has(o.cloud);
          assert.equal(r.applied, !seen, 'a top-up credits exactly once');
          if (!seen) {
            clouds.set(o.cloud, acct);
            bal.set(acct, (bal.get(acct) ?? 0) + o.amount);
          }
          break;
        }
        case 'snapshot': {
          const acct = ACCOUNTS[o.acct] ?? 'p';
          const v = (version.get(acct) ?? 0) + o.bump;
          if (v < 1) break;
          const r = l.applyAccountSnapshot({ accountId: acct, version: v, balanceCents: o.balance, points: 0, tier: 't', coveredSeq: l.outbox.stats().lastSeq });
          const newer = v > (version.get(acct) ?? 0);
          assert.equal(r.applied, newer);
          if (newer) {
            version.set(acct, v);
            bal.set(acct, o.balance);
          }
          break;
        }
        case 'hold': {
          const acct = ACCOUNTS[o.acct] ?? 'p';
          const before = bal.get(acct) ?? 0;
          const r = l.hold(cardHold(acct, o.amount, { floorCents: o.floor }));
          if (before - o.amount < o.floor) {
            assert.ok(!r.ok && r.outcome === 'insufficient_funds');
          } else {
            assert.ok(r.ok, 'a hold within the floor is accepted');
            assert.ok((r.balanceCents ?? 0) >= o.floor, 'never below the floor');
            bal.set(acct, before - o.amount);
            vends.push({ id: r.vendId, acct, amount: o.amount, state: 'held' });
          }
          break;
        }
        case 'qr': {
          const r = l.hold({ method: 'qr', funding: 'token', machineId: 'D1', amountCents: 300, tokenId: `00${o.token}0`, tokenExpiresAt: 2_000_000_000, ruleSetVersion: '1', ruleId: 'q' });
          if (tokens.has(o.token)) assert.ok(!r.ok && r.outcome === 'replayed');
          else {
            assert.ok(r.ok);
            tokens.add(o.token);
            vends.push({ id: r.vendId, acct: null, amount: 300, state: 'held' });
          }
          break;
        }
        case 'send': {
          const v = vends[vends.length - 1 - o.vend];
          if (!v) break;
          const r = l.markCreditSent(v.id, { seq: o.vend });
          assert.equal(r.ok, v.state === 'held');
          if (r.ok) v.state = 'credit_sent';
          break;
        }
        case 'capture': {
          const v = vends[vends.length - 1 - o.vend];
          if (!v) break;
          const amount = o.amount ?? v.amount;
          const r = l.capture(v.id, o.amount === null ? {} : { amountCents: o.amount });
          const expect = v.state === 'captured' || v.state === 'refunded' ? 'already_finished' : v.state === 'held' ? 'not_sent' : amount > v.amount ? 'over_hold' : 'ok';
          assert.equal(r.ok ? 'ok' : r.reason, expect);
          if (r.ok) {
            v.state = 'captured';
            if (v.acct) bal.set(v.acct, (bal.get(v.acct) ?? 0) + v.amount - amount);
          }
          break;
        }
        case 'refund': {
          const v = vends[vends.length - 1 - o.vend];
          if (!v) break;
          const amount = o.amount ?? v.amount;
          const r = l.refund(v.id, o.amount === null ? { reason: 'p' } : { reason: 'p', amountCents: o.amount });
          const expect = v.state === 'captured' || v.state === 'refunded' ? 'already_finished' : amount > v.amount ? 'over_hold' : 'ok';
          assert.equal(r.ok ? 'ok' : r.reason, expect);
          if (r.ok) {
            v.state = 'refunded';
            if (v.acct) bal.set(v.acct, (bal.get(v.acct) ?? 0) + amount);
          }
          break;
        }
        case 'ack':
          l.outbox.ack(Math.max(0, l.outbox.stats().lastSeq - o.back));
          break;
        case 'prune': {
          if (o.settle) {
            // The cloud catches up: everything acknowledged, snapshots covering it all.
            const last = l.outbox.stats().lastSeq;
            l.outbox.ack(last);
            for (const acct of ACCOUNTS) {
              const v = (version.get(acct) ?? 0) + 1;
              l.applyAccountSnapshot({ accountId: acct, version: v, balanceCents: bal.get(acct) ?? 0, points: l.balance(acct)?.points ?? 0, tier: 't', coveredSeq: last });
              version.set(acct, v);
            }
          }
          // Everything is "old" here (the clock stands still): only settledness decides.
          l.pruneHistory({ beforeMs: Date.UTC(2100, 0, 1) });
          for (let i = vends.length - 1; i >= 0; i--) {
            const v = vends[i];
            if (v && l.getVend(v.id) === undefined) {
              assert.ok(v.state === 'captured' || v.state === 'refunded', 'only finished vends are pruned');
              vends.splice(i, 1);
            }
          }
          assert.ok(l.verifyAudit().ok);
          break;
        }
        case 'dead': {
          const first = l.outbox.nextBatch({ maxCount: o.back + 1, maxBytes: 1 << 20 }).records.at(-1);
          if (first) l.outbox.deadLetter([first.seq], 'property');
          break;
        }
      }
      for (const acct of ACCOUNTS) {
        const b = l.balance(acct);
        assert.equal(b?.balanceCents ?? 0, bal.get(acct) ?? 0, `balance of ${acct} after ${o.op}`);
      }
    }
    for (const v of vends) assert.equal(l.getVend(v.id)?.state, v.state);

    const audit = l.verifyAudit();
    assert.ok(audit.ok, JSON.stringify(audit));
    assert.deepEqual(l.selfCheck().problems, []);
    assert.equal(l.integrityCheck().ok, true);
  } finally {
    l.close();
  }
}

test('random operation sequences keep the ledger invariants', () => {
  const t = tempDir('ledger-prop-', true);
  let n = 0;
  try {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 5, maxLength: 60, size: 'max' }), (ops) => {
        n += 1;
        runScenario(ops, t.file(`p${n}.db`));
      }),
      { numRuns: Number(process.env.LEDGER_PROPERTY_RUNS ?? '60') },
    );
  } finally {
    t.cleanup();
  }
});
