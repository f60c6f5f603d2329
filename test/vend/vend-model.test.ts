// Model-based property test: random interleavings of swipes, machine replies (accepted, rejected,
// unknown, lost), timeouts, machines going offline and crashes, driven through the real vend state
// machine against a model ledger and model devices. A crash throws away every in-memory session
// and pending reply and restarts each unfinished vend from the ledger with a reconcile verdict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  createVendSession,
  isTerminal,
  recoverVendSession,
  stepVend,
  vendMachineOptionsSchema,
  type ReadbackResult,
  type VendAction,
  type VendEvent,
  type VendRequest,
  type VendSession,
} from '../../gateway/vend/vend-machine.js';

const MACHINES = ['A', 'B', 'C'] as const;
type MachineId = (typeof MACHINES)[number];
const OPTS = vendMachineOptionsSchema.parse({ maxReadbacks: 2 });

type Truth = 'accepted' | 'rejected' | 'none';

interface HoldRow {
  vendId: string;
  machineId: MachineId;
  amount: number;
  status: 'held' | 'sent' | 'captured' | 'refunded';
  captures: number;
  refunds: number;
  evidence: unknown;
}

class ModelLedger {
  balance: number;
  readonly holds = new Map<string, HoldRow>();
  private next = 1;
  constructor(
    start: number,
    readonly floor: number,
  ) {
    this.balance = start;
  }
  held(): number {
    let sum = 0;
    for (const h of this.holds.values()) if (h.status === 'held' || h.status === 'sent') sum += h.amount;
    return sum;
  }
  hold(machineId: MachineId, amount: number): string | null {
    if (this.balance - this.held() - amount < this.floor) return null;
    const vendId = `v${this.next++}`;
    this.holds.set(vendId, { vendId, machineId, amount, status: 'held', captures: 0, refunds: 0, evidence: null });
    return vendId;
  }
  row(vendId: string): HoldRow {
    const h = this.holds.get(vendId);
    assert.ok(h, `no hold ${vendId}`);
    return h;
  }
  markSent(vendId: string, evidence: unknown): void {
    const h = this.row(vendId);
    assert.ok(h.status === 'held' || h.status === 'sent', `markCreditSent on ${h.status}`);
    h.status = 'sent';
    h.evidence = evidence;
  }
  capture(vendId: string): void {
    const h = this.row(vendId);
    h.captures++;
    assert.ok(h.status === 'held' || h.status === 'sent', `capture of a ${h.status} vend`);
    h.status = 'captured';
    this.balance -= h.amount;
  }
  refund(vendId: string): void {
    const h = this.row(vendId);
    h.refunds++;
    assert.ok(h.status === 'held' || h.status === 'sent', `refund of a ${h.status} vend`);
    h.status = 'refunded';
  }
  unfinished(): HoldRow[] {
    return [...this.holds.values()].filter((h) => h.status === 'held' || h.status === 'sent');
  }
}

/** What each device really did for each vend, and how often it was credited. */
class ModelDevices {
  readonly truth = new Map<string, Truth>();
  readonly credits = new Map<string, number>();
  execute(vendId: string, outcome: 'accepted' | 'rejected'): void {
    assert.ok((this.truth.get(vendId) ?? 'none') === 'none', `vend ${vendId} executed twice on the device`);
    this.truth.set(vendId, outcome);
    if (outcome === 'accepted') this.credits.set(vendId, (this.credits.get(vendId) ?? 0) + 1);
  }
  of(vendId: string): Truth {
    return this.truth.get(vendId) ?? 'none';
  }
}

type Pending =
  /** A credit command on the wire; `settled` once the device has acted (or certainly will not). */
  | { kind: 'credit'; machineId: MachineId; vendId: string; settled: boolean }
  | { kind: 'read'; machineId: MachineId; vendId: string };

/** accepted-hollow: the device acknowledged the command but the credit did not take (a RIO-8 write acked, the pulses never counted). */
type CreditFate = 'accepted' | 'accepted-hollow' | 'rejected' | 'unknown-executed' | 'unknown-not' | 'lost-executed' | 'lost-not' | 'unsupported';
type ReadFate = 'truth' | 'unknown' | 'pending' | 'timeout' | 'offline';

type Op =
  | { op: 'swipe'; m: number; amount: number; decline: boolean }
  | { op: 'credit-reply'; pick: number; fate: CreditFate }
  | { op: 'read-reply'; pick: number; fate: ReadFate }
  | { op: 'timeout'; m: number; executed: boolean }
  | { op: 'offline'; m: number; executed: boolean }
  | { op: 'reconcile'; m: number; know: boolean }
  | { op: 'crash'; executed: boolean; know: boolean };

class World {
  readonly ledger: ModelLedger;
  readonly devices = new ModelDevices();
  sessions = new Map<MachineId, VendSession>();
  pending: Pending[] = [];
  readonly sends = new Map<string, number>();
  readonly captured = new Set<string>();
  constructor(start: number, floor: number) {
    this.ledger = new ModelLedger(start, floor);
  }

  feed(machineId: MachineId, event: VendEvent): void {
    const s = this.sessions.get(machineId);
    if (!s) return;
    const r = stepVend(s, event, OPTS);
    this.sessions.set(machineId, r.session);
    for (const a of r.actions) this.act(machineId, a);
  }

  /** A reply belongs to the vend that asked; one for an earlier vend on the machine is dropped. */
  private reply(machineId: MachineId, vendId: string, event: VendEvent): void {
    if (this.sessions.get(machineId)?.vendId === vendId) this.feed(machineId, event);
  }

  private act(machineId: MachineId, a: VendAction): void {
    switch (a.type) {
      case 'record-hold': {
        const vendId = this.ledger.hold(machineId, a.amountCents);
        this.feed(machineId, vendId === null ? { type: 'declined', reason: 'insufficient_funds' } : { type: 'held', vendId });
        return;
      }
      case 'send-credit':
        this.sends.set(a.vendId, (this.sends.get(a.vendId) ?? 0) + 1);
        this.pending.push({ kind: 'credit', machineId, vendId: a.vendId, settled: false });
        return;
      case 'mark-credit-sent':
        this.ledger.markSent(a.vendId, a.evidence);
        return;
      case 'read-back':
        this.pending.push({ kind: 'read', machineId, vendId: a.vendId });
        return;
      case 'capture':
        // Never captured without the device having taken the credit.
        assert.equal(this.devices.of(a.vendId), 'accepted', `captured ${a.vendId} that the device did not accept`);
        this.ledger.capture(a.vendId);
        this.captured.add(a.vendId);
        this.feed(machineId, { type: 'captured' });
        return;
      case 'refund':
        // Never refunded while the machine holds the credit: that would be a free wash.
        assert.notEqual(this.devices.of(a.vendId), 'accepted', `refunded ${a.vendId} that the device accepted`);
        this.ledger.refund(a.vendId);
        this.feed(machineId, { type: 'refunded' });
        return;
      case 'record-decline':
      case 'alert':
        return;
    }
  }

  /** The wire write reaches the device (or certainly never will) at most once. */
  private settle(p: Extract<Pending, { kind: 'credit' }>, executed: boolean, outcome: 'accepted' | 'rejected' = 'accepted'): void {
    if (p.settled) return;
    p.settled = true;
    if (executed) this.devices.execute(p.vendId, outcome);
  }

  private settleMachine(machineId: MachineId, executed: boolean): void {
    for (const p of this.pending) if (p.kind === 'credit' && p.machineId === machineId) this.settle(p, executed);
  }

  private take<K extends Pending['kind']>(kind: K, pick: number): Extract<Pending, { kind: K }> | undefined {
    const of = this.pending.filter((p): p is Extract<Pending, { kind: K }> => p.kind === kind);
    if (of.length === 0) return undefined;
    const p = of[pick % of.length];
    if (p === undefined) return undefined;
    this.pending = this.pending.filter((x) => x !== p);
    return p;
  }

  private truthfulRead(vendId: string): ReadbackResult {
    const t = this.devices.of(vendId);
    return t === 'accepted' ? { verdict: 'confirmed' } : t === 'rejected' ? { verdict: 'rejected', reason: 'door_open' } : { verdict: 'not-executed' };
  }

  private verdict(vendId: string): 'executed-accepted' | 'executed-rejected' | 'not-executed' {
    const t = this.devices.of(vendId);
    return t === 'accepted' ? 'executed-accepted' : t === 'rejected' ? 'executed-rejected' : 'not-executed';
  }

  apply(o: Op): void {
    switch (o.op) {
      case 'swipe': {
        const m = MACHINES[o.m % MACHINES.length] ?? 'A';
        const s = this.sessions.get(m);
        if (s && !isTerminal(s.state)) return; // the machine is busy with a vend
        const request: VendRequest = { machineId: m, command: 'credit', program: 1 };
        this.sessions.set(m, createVendSession(request));
        this.feed(m, { type: 'begin' });
        this.feed(m, o.decline ? { type: 'declined', reason: 'velocity' } : { type: 'authorized', amountCents: o.amount });
        return;
      }
      case 'credit-reply': {
        const p = this.take('credit', o.pick);
        if (!p) return;
        const events: Record<CreditFate, VendEvent> = {
          accepted: { type: 'credit-outcome', outcome: { status: 'accepted', evidence: { vendId: p.vendId } } },
          'accepted-hollow': { type: 'credit-outcome', outcome: { status: 'accepted', evidence: { vendId: p.vendId } } },
          rejected: { type: 'credit-outcome', outcome: { status: 'rejected', reason: 'door_open', deviceCode: 3, detail: 'door' } },
          'unknown-executed': { type: 'credit-outcome', outcome: { status: 'unknown', detail: 'reply lost' } },
          'unknown-not': { type: 'credit-outcome', outcome: { status: 'unknown', detail: 'reply lost' } },
          'lost-executed': { type: 'timeout' },
          'lost-not': { type: 'timeout' },
          unsupported: { type: 'credit-outcome', outcome: { status: 'unsupported' } },
        };
        // A reply after the device already acted (a watchdog fired first) reports what it did.
        const already = p.settled ? this.devices.of(p.vendId) : null;
        if (!p.settled) {
          if (o.fate === 'accepted' || o.fate === 'unknown-executed' || o.fate === 'lost-executed') this.settle(p, true, 'accepted');
          else if (o.fate === 'rejected') this.settle(p, true, 'rejected');
          else this.settle(p, false);
        }
        let ev = events[o.fate];
        if (already !== null && (o.fate === 'accepted' || o.fate === 'rejected' || o.fate === 'unsupported')) {
          ev = already === 'accepted' ? events.accepted : already === 'rejected' ? events.rejected : events['unknown-not'];
        }
        this.reply(p.machineId, p.vendId, ev);
        return;
      }
      case 'read-reply': {
        const p = this.take('read', o.pick);
        if (!p) return;
        const truth = this.truthfulRead(p.vendId);
        const ev: Record<ReadFate, VendEvent> = {
          truth: { type: 'confirm-read', result: truth },
          unknown: { type: 'confirm-read', result: { verdict: 'unknown', detail: 'no reply' } },
          pending: { type: 'confirm-read', result: truth.verdict === 'not-executed' ? { verdict: 'pending' } : truth },
          timeout: { type: 'timeout' },
          offline: { type: 'machine-offline' },
        };
        this.reply(p.machineId, p.vendId, ev[o.fate]);
        return;
      }
      case 'timeout':
      case 'offline': {
        const m = MACHINES[o.m % MACHINES.length] ?? 'A';
        // Whatever is on the wire to this machine has now either reached it or never will.
        this.settleMachine(m, o.executed);
        this.feed(m, o.op === 'timeout' ? { type: 'timeout' } : { type: 'machine-offline' });
        return;
      }
      case 'reconcile': {
        const m = MACHINES[o.m % MACHINES.length] ?? 'A';
        const s = this.sessions.get(m);
        if (!s || s.state !== 'unresolved' || s.vendId === null) return;
        this.settleMachine(m, false);
        this.feed(m, { type: 'crash-recovery', verdict: o.know ? this.verdict(s.vendId) : 'unknown' });
        return;
      }
      case 'crash':
        this.crash(o.executed, o.know);
        return;
    }
  }

  crash(executed: boolean, know: boolean): void {
    for (const p of this.pending) if (p.kind === 'credit') this.settle(p, executed);
    this.pending = [];
    this.sessions = new Map();
    for (const h of this.ledger.unfinished()) {
      const s = recoverVendSession({ vendId: h.vendId, request: { machineId: h.machineId, command: 'credit', program: 1 }, amountCents: h.amount, evidence: h.evidence, creditSent: h.status === 'sent' });
      this.sessions.set(h.machineId, s);
      this.feed(h.machineId, { type: 'crash-recovery', verdict: know ? this.verdict(h.vendId) : 'unknown' });
    }
  }

  /** After the storm: the devices answer truthfully until nothing is left open. */
  drain(): void {
    for (let i = 0; i < 1000 && this.pending.length > 0; i++) {
      const p = this.pending[0];
      if (p === undefined) break;
      if (p.kind === 'credit') this.apply({ op: 'credit-reply', pick: 0, fate: 'accepted' });
      else this.apply({ op: 'read-reply', pick: 0, fate: 'truth' });
    }
    for (const m of MACHINES) this.apply({ op: 'reconcile', m: MACHINES.indexOf(m), know: true });
  }

  checkAlways(): void {
    assert.ok(this.ledger.balance - this.ledger.held() >= this.ledger.floor, 'balance went below its floor');
    for (const [vendId, n] of this.sends) assert.ok(n <= 1, `credit sent ${n} times for ${vendId}`);
    for (const [vendId, n] of this.devices.credits) assert.ok(n <= 1, `machine credited ${n} times for ${vendId}`);
  }

  checkEnd(): void {
    for (const h of this.ledger.holds.values()) {
      assert.equal(h.captures + h.refunds, 1, `${h.vendId} ended ${h.captures} captures, ${h.refunds} refunds (${h.status})`);
      assert.equal(h.status === 'captured', this.devices.of(h.vendId) === 'accepted');
    }
    for (const s of this.sessions.values()) assert.ok(isTerminal(s.state), `a session left in ${s.state}`);
  }
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('swipe' as const), m: fc.nat(2), amount: fc.integer({ min: 0, max: 600 }), decline: fc.constantFrom(false, false, false, true) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('credit-reply' as const),
      pick: fc.nat(5),
      fate: fc.constantFrom<CreditFate>('accepted', 'accepted', 'accepted-hollow', 'rejected', 'unknown-executed', 'unknown-not', 'lost-executed', 'lost-not', 'unsupported'),
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('read-reply' as const), pick: fc.nat(5), fate: fc.constantFrom<ReadFate>('truth', 'truth', 'unknown', 'pending', 'timeout', 'offline') }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('timeout' as const), m: fc.nat(2), executed: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('offline' as const), m: fc.nat(2), executed: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reconcile' as const), m: fc.nat(2), know: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('crash' as const), executed: fc.boolean(), know: fc.boolean() }) },
);

test('model: every hold ends in exactly one capture or refund, captures only on confirmation, one credit per vend, balance above floor', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: -500, max: 0 }), fc.array(opArb, { minLength: 10, maxLength: 120, size: 'large' }), (start, floor, ops) => {
      const w = new World(start, floor);
      for (const o of ops) {
        w.apply(o);
        w.checkAlways();
      }
      w.drain();
      w.checkAlways();
      w.checkEnd();
    }),
    { numRuns: 500 },
  );
});

test('model: a crash right after the credit left, then recovery that cannot reach the device, stays open until it can', () => {
  const w = new World(1000, 0);
  w.apply({ op: 'swipe', m: 0, amount: 350, decline: false });
  w.apply({ op: 'crash', executed: true, know: false });
  assert.equal(w.sessions.get('A')?.state, 'unresolved');
  assert.equal(w.ledger.unfinished().length, 1);
  w.apply({ op: 'reconcile', m: 0, know: false });
  assert.equal(w.sessions.get('A')?.state, 'unresolved');
  w.apply({ op: 'reconcile', m: 0, know: true });
  assert.equal(w.sessions.get('A')?.state, 'captured');
  w.checkEnd();
});
