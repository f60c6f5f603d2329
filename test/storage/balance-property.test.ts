// The balance rule against a model cloud, over random orders of top-ups, snapshots, acks and
// vends (holds, captures, refunds through the ledger's API), with deliveries delayed, reordered
// and repeated and the ledger reopened now and then. The cloud books a top-up when it issues it
// (at a new account version) and the gateway's vend records when it stores them (up to its
// stored seq); a snapshot is its booked balance with that version and seq. After every step the
// gateway's balance must equal every top-up it knows of (applied here, or inside the applied
// snapshot) plus every vend movement, to the cent: never a cent twice, never one dropped. At the
// end the cloud catches up and both sides agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Ledger } from '../../storage/index.js';
import { cardHold, openTestLedger, tempDir } from './helpers.js';

const ACCOUNTS = ['p', 'q'] as const;

type Op =
  | { op: 'issueTopUp'; acct: number; amount: number }
  | { op: 'deliverTopUp'; back: number }
  | { op: 'ingest'; count: number }
  | { op: 'makeSnapshot'; acct: number }
  | { op: 'deliverSnapshot'; back: number }
  | { op: 'ack'; back: number }
  | { op: 'hold'; acct: number; amount: number }
  | { op: 'send'; vend: number }
  | { op: 'capture'; vend: number; part: number }
  | { op: 'refund'; vend: number; part: number }
  | { op: 'reopen' }
  | { op: 'prune' };

const acct = fc.nat({ max: ACCOUNTS.length - 1 });
const back = fc.nat({ max: 4 });
const part = fc.integer({ min: 0, max: 4 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('issueTopUp' as const), acct, amount: fc.integer({ min: 1, max: 5000 }) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('deliverTopUp' as const), back }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('ingest' as const), count: fc.integer({ min: 1, max: 6 }) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('makeSnapshot' as const), acct }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('deliverSnapshot' as const), back }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('ack' as const), back }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('hold' as const), acct, amount: fc.integer({ min: 1, max: 40 }).map((x) => x * 25) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('send' as const), vend: fc.nat({ max: 2 }) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('capture' as const), vend: fc.nat({ max: 2 }), part }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('refund' as const), vend: fc.nat({ max: 2 }), part }), weight: 2 },
  { arbitrary: fc.constant({ op: 'reopen' as const }), weight: 1 },
  { arbitrary: fc.constant({ op: 'prune' as const }), weight: 1 },
);

interface TopUpMsg { cloudId: string; accountId: string; amountCents: number; accountVersion: number }
interface SnapshotMsg { accountId: string; version: number; balanceCents: number; points: number; tier: string; coveredSeq: number }
interface Vend { id: string; acct: string; held: number; state: 'held' | 'credit_sent' | 'done' }

class ModelCloud {
  readonly version = new Map<string, number>();
  readonly booked = new Map<string, number>();
  storedSeq = 0;
  readonly topUps: TopUpMsg[] = [];
  readonly snapshots: SnapshotMsg[] = [];

  issueTopUp(accountId: string, amountCents: number): void {
    const v = (this.version.get(accountId) ?? 0) + 1;
    this.version.set(accountId, v);
    this.booked.set(accountId, (this.booked.get(accountId) ?? 0) + amountCents);
    this.topUps.push({ cloudId: `tu-${this.topUps.length + 1}`, accountId, amountCents, accountVersion: v });
  }

  /** Stores the gateway's records up to seq and books their money, each once. */
  ingest(upTo: number, deltas: Map<number, { acct: string; cents: number }>): void {
    for (let s = this.storedSeq + 1; s <= upTo; s++) {
      const d = deltas.get(s);
      if (d) this.booked.set(d.acct, (this.booked.get(d.acct) ?? 0) + d.cents);
    }
    this.storedSeq = Math.max(this.storedSeq, upTo);
  }

  snapshot(accountId: string): SnapshotMsg {
    // Booking records moves the account too: every snapshot the cloud builds gets a new version.
    const v = (this.version.get(accountId) ?? 0) + 1;
    this.version.set(accountId, v);
    const s = { accountId, version: v, balanceCents: this.booked.get(accountId) ?? 0, points: 0, tier: 't', coveredSeq: this.storedSeq };
    this.snapshots.push(s);
    return s;
  }
}

function runScenario(ops: readonly Op[], path: string): void {
  let l: Ledger = openTestLedger(path);
  const cloud = new ModelCloud();
  /** Per outbox seq, the money its record moves (what the cloud books when it stores it). */
  const deltas = new Map<number, { acct: string; cents: number }>();
  const vendCents = new Map<string, number>();
  const appliedTopUps = new Set<string>();
  const applied = new Map<string, SnapshotMsg>();
  const vends: Vend[] = [];
  const pick = <T>(xs: readonly T[], b: number): T | undefined => xs[xs.length - 1 - b];
  const moved = (a: string, cents: number): void => {
    const seq = l.outbox.stats().lastSeq;
    assert.equal(deltas.has(seq), false, 'one money record per step');
    deltas.set(seq, { acct: a, cents });
    vendCents.set(a, (vendCents.get(a) ?? 0) + cents);
  };
  /** Every top-up this gateway knows of, each once: applied here, or inside the applied snapshot. */
  const expected = (a: string): number => {
    const snapV = applied.get(a)?.version ?? 0;
    const topUps = cloud.topUps.filter((t) => t.accountId === a && (appliedTopUps.has(t.cloudId) || t.accountVersion <= snapV));
    return topUps.reduce((s, t) => s + t.amountCents, 0) + (vendCents.get(a) ?? 0);
  };
  try {
    for (const o of ops) {
      switch (o.op) {
        case 'issueTopUp':
          cloud.issueTopUp(ACCOUNTS[o.acct] ?? 'p', o.amount);
          break;
        case 'deliverTopUp': {
          const t = pick(cloud.topUps, o.back);
          if (!t) break;
          const snapV = applied.get(t.accountId)?.version ?? 0;
          const r = l.applyTopUp(t);
          const got = r.applied ? 'applied' : r.reason;
          // Once retention dropped its entry, an applied top-up inside the snapshot is refused by version.
          if (appliedTopUps.has(t.cloudId)) assert.ok(got === 'replayed' || (got === 'old_version' && t.accountVersion <= snapV), got);
          else assert.equal(got, t.accountVersion <= snapV ? 'old_version' : 'applied');
          if (r.applied) appliedTopUps.add(t.cloudId);
          break;
        }
        case 'ingest':
          cloud.ingest(Math.min(l.outbox.stats().lastSeq, cloud.storedSeq + o.count), deltas);
          break;
        case 'makeSnapshot':
          cloud.snapshot(ACCOUNTS[o.acct] ?? 'p');
          break;
        case 'deliverSnapshot': {
          const s = pick(cloud.snapshots, o.back);
          if (!s) break;
          const cur = applied.get(s.accountId)?.version ?? 0;
          const r = l.applyAccountSnapshot(s);
          const want = s.version === cur ? 'replayed' : s.version < cur ? 'old_version' : 'applied';
          assert.equal(r.applied ? 'applied' : r.reason, want);
          if (r.applied) applied.set(s.accountId, s);
          break;
        }
        case 'ack':
          // Acks may lag the cloud's store as far as they like: balances do not depend on them.
          l.outbox.ack(Math.max(l.outbox.stats().ackedSeq, cloud.storedSeq - o.back));
          break;
        case 'hold': {
          const a = ACCOUNTS[o.acct] ?? 'p';
          const r = l.hold(cardHold(a, o.amount, { floorCents: -1_000_000_000 }));
          assert.ok(r.ok);
          vends.push({ id: r.vendId, acct: a, held: o.amount, state: 'held' });
          moved(a, -o.amount);
          break;
        }
        case 'send': {
          const v = pick(vends, o.vend);
          if (!v || v.state !== 'held') break;
          assert.ok(l.markCreditSent(v.id, { seq: 1 }).ok);
          v.state = 'credit_sent';
          break;
        }
        case 'capture': {
          const v = pick(vends, o.vend);
          if (!v || v.state !== 'credit_sent') break;
          const captured = Math.floor((v.held * o.part) / 4);
          assert.ok(l.capture(v.id, { amountCents: captured }).ok);
          v.state = 'done';
          if (v.held - captured > 0) moved(v.acct, v.held - captured);
          else deltas.set(l.outbox.stats().lastSeq, { acct: v.acct, cents: 0 });
          break;
        }
        case 'refund': {
          const v = pick(vends, o.vend);
          if (!v || v.state === 'done') break;
          const refunded = Math.floor((v.held * o.part) / 4);
          assert.ok(l.refund(v.id, { reason: 'p', amountCents: refunded }).ok);
          v.state = 'done';
          moved(v.acct, refunded);
          break;
        }
        case 'prune':
          // Everything is old enough (the test clock stands still): only what is settled goes.
          l.pruneHistory({ beforeMs: Date.UTC(2100, 0, 1) });
          break;
        case 'reopen':
          l.close();
          l = openTestLedger(path);
          break;
      }
      for (const a of ACCOUNTS) assert.equal(l.balance(a)?.balanceCents ?? 0, expected(a), `balance of ${a} after ${o.op}`);
    }
    // The cloud catches up: every record stored, every top-up delivered, a fresh snapshot.
    cloud.ingest(l.outbox.stats().lastSeq, deltas);
    for (const t of cloud.topUps) l.applyTopUp(t);
    for (const a of ACCOUNTS) {
      const before = l.balance(a)?.balanceCents ?? 0;
      const s = cloud.snapshot(a);
      assert.ok(l.applyAccountSnapshot(s).applied);
      assert.equal(l.balance(a)?.balanceCents ?? 0, before, `a covering snapshot leaves ${a} as it was`);
      assert.equal(s.balanceCents, before, `cloud and gateway agree on ${a}`);
      assert.equal(l.balance(a)?.pendingEntries, 0);
    }
  } finally {
    l.close();
  }
}

test('balance = snapshot + what the ledger says since, in any order of top-ups, snapshots, acks and vends', () => {
  const t = tempDir('balance-prop-', true);
  let n = 0;
  try {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 5, maxLength: 80, size: 'max' }), (ops) => {
        n += 1;
        runScenario(ops, t.file(`b${n}.db`));
      }),
      { numRuns: Number(process.env.BALANCE_PROPERTY_RUNS ?? '60') },
    );
  } finally {
    t.cleanup();
  }
});
