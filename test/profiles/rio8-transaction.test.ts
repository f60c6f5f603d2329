// The RIO-8 credit transaction without a bus or a timer, and the property that matters most:
// whatever the wire does, the pulse-train register is written at most once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Rio8Credit, type Rio8Action } from '../../gateway/profiles/rio8-transaction.js';
import { profileOptions } from '../../gateway/profiles/options.js';
import type { IoFailure, IoResult } from '../../gateway/profiles/io.js';
import type { CommandOutcome } from '../../gateway/profiles/types.js';

const O = profileOptions().rio8;
const P = { unit: 20, channel: 3, coins: 7, pulseOnMs: 60, pulseOffMs: 60 };
const ok = <T>(value: T): IoResult<T> => ({ ok: true, value });
const fail = (failure: IoFailure): { ok: false; failure: IoFailure } => ({ ok: false, failure });
const LOST: IoFailure = { kind: 'lost', detail: 'timeout' };

interface Script {
  pulseTimes?: IoResult<number[]>;
  inUse?: IoResult<boolean>[];
  pending?: IoResult<number>[];
  counter?: IoResult<number>[];
  write?: IoResult<null>;
}

/** Runs a credit against scripted results; the clock moves by each sleep. */
function run(s: Script): { outcome: CommandOutcome; actions: Rio8Action['do'][]; writes: number } {
  const tx = new Rio8Credit(P, O);
  const q = { inUse: [...(s.inUse ?? [ok(false)])], pending: [...(s.pending ?? [])], counter: [...(s.counter ?? [])] };
  const actions: Rio8Action['do'][] = [];
  let now = 0;
  let writes = 0;
  for (let a = tx.start(), i = 0; ; i++) {
    assert.ok(i < 1000, 'runs away');
    actions.push(a.do);
    switch (a.do) {
      case 'read-in-use':
        a = tx.onInUse(q.inUse.shift() ?? fail(LOST));
        break;
      case 'read-pending':
        a = tx.onPending(q.pending.shift() ?? fail(LOST), now);
        break;
      case 'read-counter':
        a = tx.onCounter(q.counter.shift() ?? fail(LOST), now);
        break;
      case 'read-pulse-times':
        a = tx.onPulseTimes(s.pulseTimes ?? ok([60, 60]));
        break;
      case 'write':
        writes++;
        a = tx.onWrite(s.write ?? ok(null), now);
        break;
      case 'sleep':
        now += a.ms;
        a = tx.onSlept();
        break;
      case 'done':
        return { outcome: a.outcome, actions, writes };
    }
  }
}

test('the happy path: checks, one write, counter followed to the last pulse', () => {
  const r = run({ pending: [ok(0)], counter: [ok(100), ok(100), ok(103), ok(107)] });
  assert.deepEqual(r.outcome, { status: 'accepted', evidence: { profile: 'rio8', unit: 20, channel: 3, counterBefore: 100, coins: 7 } });
  assert.deepEqual(r.actions.slice(0, 6), ['read-in-use', 'read-pending', 'read-counter', 'read-pulse-times', 'write', 'read-counter']);
  assert.equal(r.writes, 1);
});

test('refusals before the write: in use, a train running, unreadable', () => {
  const inUse = run({ inUse: [ok(true)] });
  assert.ok(inUse.outcome.status === 'rejected' && inUse.outcome.reason === 'in_use' && inUse.writes === 0);
  const busy = run({ pending: [ok(2)] });
  assert.ok(busy.outcome.status === 'rejected' && busy.outcome.reason === 'busy' && busy.outcome.deviceCode === null && busy.writes === 0);
  for (const s of [{ inUse: [fail(LOST)] }, { pending: [fail(LOST)] }, { pending: [ok(0)], counter: [fail({ kind: 'not-sent', detail: 'breaker-open', breakerOpen: true })] }]) {
    const r = run(s);
    assert.ok(r.outcome.status === 'rejected' && r.outcome.reason === 'unreachable' && r.writes === 0, JSON.stringify(r.outcome));
  }
});

test('write refused: exception 06 busy, other exceptions, not sent', () => {
  const base = { pending: [ok(0)], counter: [ok(5)] };
  const b = run({ ...base, write: fail({ kind: 'exception', code: 6, detail: 'busy' }) });
  assert.ok(b.outcome.status === 'rejected' && b.outcome.reason === 'busy' && b.outcome.deviceCode === 6);
  const e = run({ ...base, write: fail({ kind: 'exception', code: 3, detail: 'illegal data value' }) });
  assert.ok(e.outcome.status === 'rejected' && e.outcome.reason === 'device_exception' && e.outcome.deviceCode === 3);
  const n = run({ ...base, write: fail({ kind: 'not-sent', detail: 'port-down', breakerOpen: false }) });
  assert.ok(n.outcome.status === 'rejected' && n.outcome.reason === 'unreachable');
});

test('lost write reply: settle, then counter and pending decide; never a second write', () => {
  const started = run({ pending: [ok(0), ok(4)], counter: [ok(65534), ok(65535), ok(5)], write: fail(LOST) });
  assert.equal(started.outcome.status, 'accepted');
  assert.equal(started.writes, 1);
  assert.deepEqual(started.actions.slice(4, 8), ['write', 'sleep', 'read-counter', 'read-pending']);
  const never = run({ pending: [ok(0), ok(0)], counter: [ok(9), ok(9)], write: fail(LOST) });
  assert.ok(never.outcome.status === 'rejected' && never.outcome.reason === 'not_executed', JSON.stringify(never.outcome));
  const justStarted = run({ pending: [ok(0), ok(7)], counter: [ok(9), ok(9), ok(16)], write: fail(LOST) });
  assert.equal(justStarted.outcome.status, 'accepted');
  const retried = run({ pending: [ok(0), fail(LOST), ok(0)], counter: [ok(9), fail(LOST), ok(9)], write: fail(LOST) });
  assert.ok(retried.outcome.status === 'rejected' && retried.outcome.reason === 'not_executed');
  const blind = run({ pending: [ok(0)], counter: [ok(9)], write: fail(LOST) });
  assert.ok(blind.outcome.status === 'unknown' && blind.outcome.evidence?.profile === 'rio8' && /read-back failed/.test(blind.outcome.detail));
});

test('the module restarts mid-train (its counter goes back): unknown, never taken as delivered', () => {
  // It used to be accepted (delta >= coins), charging for a train the power cut had stopped.
  const r = run({ pending: [ok(0)], counter: [ok(100), ok(102), ok(1)] });
  assert.ok(r.outcome.status === 'unknown' && /went back \(100 -> 1\)/.test(r.outcome.detail) && r.outcome.evidence?.profile === 'rio8', JSON.stringify(r.outcome));
  assert.equal(r.writes, 1);
});

test('a train that never completes within its deadline: unknown with how far it got', () => {
  const stuck = Array.from({ length: 400 }, () => ok(3));
  const r = run({ pending: [ok(0)], counter: [ok(0), ...stuck] });
  assert.ok(r.outcome.status === 'unknown' && /only 3 of 7 pulses counted within 1760 ms/.test(r.outcome.detail), JSON.stringify(r.outcome));
  // The timing is read fresh before each write: slower pulses, a longer wait.
  const slow = run({ pulseTimes: ok([500, 500]), pending: [ok(0)], counter: [ok(0), ...stuck] });
  assert.ok(slow.outcome.status === 'unknown' && /within 11000 ms/.test(slow.outcome.detail), JSON.stringify(slow.outcome));
  const unread = run({ pulseTimes: fail(LOST), pending: [ok(0)], counter: [ok(0), ...stuck] });
  assert.ok(unread.outcome.status === 'unknown' && /within 1760 ms/.test(unread.outcome.detail), JSON.stringify(unread.outcome));
});

test('pulse timing outside the datasheet range (20-500 ms) never stretches the deadline: fresh readings ignored, discovery values clamped', () => {
  // Found by the torture fuzz: a module reporting 65535 ms held the machine for hours of counter polling.
  const stuck = Array.from({ length: 400 }, () => ok(3));
  const wild = run({ pulseTimes: ok([65535, 65535]), pending: [ok(0)], counter: [ok(0), ...stuck] });
  assert.ok(wild.outcome.status === 'unknown' && /within 1760 ms/.test(wild.outcome.detail), JSON.stringify(wild.outcome));
  const zero = run({ pulseTimes: ok([0, 19]), pending: [ok(0)], counter: [ok(0), ...stuck] });
  assert.ok(zero.outcome.status === 'unknown' && /within 1760 ms/.test(zero.outcome.detail), JSON.stringify(zero.outcome));
  // Discovery read garbage and the fresh read fails: the clamp bounds it at 500 ms per edge.
  for (const [on, off, within] of [[65535, 65535, 11000], [0, 0, 920]] as const) {
    const tx = new Rio8Credit({ ...P, pulseOnMs: on, pulseOffMs: off }, O);
    let a = tx.start();
    a = tx.onInUse(ok(false));
    a = tx.onPending(ok(0), 0);
    a = tx.onCounter(ok(0), 0);
    a = tx.onPulseTimes(fail(LOST));
    assert.equal(a.do, 'write');
    a = tx.onWrite(ok(null), 0);
    let reads = 0;
    for (let now = 0; a.do !== 'done'; ) {
      if (a.do === 'sleep') {
        now += a.ms;
        a = tx.onSlept();
      } else {
        reads++;
        a = tx.onCounter(ok(3), now);
      }
    }
    assert.ok(a.outcome.status === 'unknown' && a.outcome.detail.includes(`within ${within} ms`), JSON.stringify(a.outcome));
    assert.ok(reads <= Math.ceil(within / O.pulseCheckIntervalMs) + 1, `${reads} counter reads`);
  }
});

type Ev = { kind: 'ok' | 'lost' | 'not-sent' | 'exc6' | 'exc3'; value: number; bit: boolean };
const evArb: fc.Arbitrary<Ev> = fc.record({
  kind: fc.constantFrom<Ev['kind']>('ok', 'ok', 'ok', 'lost', 'not-sent', 'exc6', 'exc3'),
  value: fc.oneof(fc.constant(0), fc.nat(65535)),
  bit: fc.boolean(),
});

function failureOf(e: Ev): IoFailure {
  if (e.kind === 'lost') return LOST;
  if (e.kind === 'not-sent') return { kind: 'not-sent', detail: 'breaker-open', breakerOpen: true };
  return { kind: 'exception', code: e.kind === 'exc6' ? 6 : 3, detail: 'exception' };
}

test('property: whatever the wire answers, at most one write, always an outcome, accepted only on counted pulses', () => {
  fc.assert(
    fc.property(fc.array(evArb, { maxLength: 300 }), fc.nat(200), (events, tick) => {
      const tx = new Rio8Credit(P, O);
      let i = 0;
      let now = 0;
      let writes = 0;
      let before: number | null = null;
      let lastCounter: number | null = null;
      const next = (): Ev => events[i++] ?? { kind: 'lost', value: 0, bit: false };
      for (let a = tx.start(), steps = 0; ; steps++) {
        if (steps > 2000) return false;
        now += tick;
        const e = next();
        switch (a.do) {
          case 'read-in-use':
            a = tx.onInUse(e.kind === 'ok' ? ok(e.bit) : fail(failureOf(e)));
            break;
          case 'read-pending':
            a = tx.onPending(e.kind === 'ok' ? ok(e.value % 51) : fail(failureOf(e)), now);
            break;
          case 'read-counter':
            if (e.kind === 'ok') {
              lastCounter = e.value;
              if (writes === 0) before = e.value;
            }
            a = tx.onCounter(e.kind === 'ok' ? ok(e.value) : fail(failureOf(e)), now);
            break;
          case 'read-pulse-times':
            a = tx.onPulseTimes(e.kind === 'ok' ? ok([20 + (e.value % 481), 20 + ((e.value >> 4) % 481)]) : fail(failureOf(e)));
            break;
          case 'write':
            writes++;
            a = tx.onWrite(e.kind === 'ok' ? ok(null) : fail(failureOf(e)), now);
            break;
          case 'sleep':
            now += a.ms;
            a = tx.onSlept();
            break;
          case 'done': {
            if (writes > 1) return false;
            const o = a.outcome;
            if (o.status === 'accepted') {
              if (before === null || lastCounter === null) return false;
              if ((lastCounter - before + 65536) % 65536 < P.coins) return false;
            }
            if (o.status === 'rejected' && o.reason !== 'not_executed' && writes === 1 && o.reason !== 'busy' && o.reason !== 'device_exception' && o.reason !== 'unreachable') return false;
            return tx.writeCount === writes;
          }
        }
      }
    }),
    { numRuns: 500 },
  );
});
