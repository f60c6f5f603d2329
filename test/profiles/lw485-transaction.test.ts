// The LW-485 command transaction without a bus or a timer: every retry and deadline rule, fed
// by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lw485Transaction, type Lw485Action } from '../../gateway/profiles/lw485-transaction.js';
import { profileOptions } from '../../gateway/profiles/options.js';
import type { IoResult } from '../../gateway/profiles/io.js';

const O = profileOptions().lw485;
const EV = { profile: 'lw485', unit: 1, seq: 42, code: 1 } as const;
const ok: IoResult<null> = { ok: true, value: null };
const lost: IoResult<null> = { ok: false, failure: { kind: 'lost', detail: 'timeout: no reply' } };
const notSent: IoResult<null> = { ok: false, failure: { kind: 'not-sent', detail: 'breaker-open', breakerOpen: true } };
const exc = (code: number): IoResult<null> => ({ ok: false, failure: { kind: 'exception', code, detail: `exception ${code}` } });
const regs = (seq: number, result: number): IoResult<number[]> => ({ ok: true, value: [seq, result] });
const readLost: IoResult<number[]> = { ok: false, failure: { kind: 'lost', detail: 'timeout' } };

function outcome(a: Lw485Action) {
  assert.equal(a.do, 'done', JSON.stringify(a));
  assert.ok(a.do === 'done');
  return a.outcome;
}

test('acknowledged write, result visible at once: accepted with the seq as evidence', () => {
  const tx = new Lw485Transaction(EV, O);
  assert.deepEqual(tx.start(), { do: 'write' });
  assert.deepEqual(tx.onWrite(ok, 0), { do: 'read-result' });
  assert.deepEqual(outcome(tx.onReadResult(regs(42, 1), 5)), { status: 'accepted', evidence: EV });
});

test('the result not visible yet: poll again until the deadline, then unknown', () => {
  const tx = new Lw485Transaction(EV, O);
  tx.onWrite(ok, 1000);
  assert.deepEqual(tx.onReadResult(regs(41, 1), 1010), { do: 'sleep', ms: O.resultPollIntervalMs, why: 'result-pending' });
  assert.deepEqual(tx.onSlept(), { do: 'read-result' });
  assert.equal(tx.deviceLastSeq, 41);
  const o = outcome(tx.onReadResult(regs(41, 1), 1000 + O.resultDeadlineMs));
  assert.equal(o.status, 'unknown');
  assert.ok(o.status === 'unknown' && /acknowledged but last seq never showed 42/.test(o.detail) && o.evidence === EV);
});

test('a clock that stands still cannot keep it reading forever', () => {
  const tx = new Lw485Transaction(EV, O);
  tx.onWrite(ok, 0);
  let a: Lw485Action = { do: 'read-result' };
  let reads = 0;
  while (a.do !== 'done') {
    a = a.do === 'read-result' ? (reads++, tx.onReadResult(readLost, 0)) : tx.onSlept();
    assert.ok(reads < 100);
  }
  assert.equal(reads, Math.ceil(O.resultDeadlineMs / O.resultPollIntervalMs) + 1);
  assert.ok(a.outcome.status === 'unknown' && /could not be read/.test(a.outcome.detail));
});

test('lost write replies: the same block again, writeAttempts in all, then the read-back decides', () => {
  const tx = new Lw485Transaction(EV, O);
  let writes = 1;
  let a = tx.onWrite(lost, 0);
  while (a.do === 'sleep') {
    assert.equal(a.why, 'lost');
    assert.deepEqual(tx.onSlept(), { do: 'write' });
    writes++;
    a = tx.onWrite(lost, 0);
  }
  assert.equal(writes, O.writeAttempts);
  assert.deepEqual(a, { do: 'read-result' });
  assert.deepEqual(outcome(tx.onReadResult(regs(42, 1), 1)), { status: 'accepted', evidence: EV });
});

test('every result code after our seq', () => {
  const reasons: Record<number, string> = { 2: 'busy', 3: 'door_open', 4: 'fault', 5: 'unknown_program', 6: 'bad_argument', 7: 'not_allowed' };
  for (const [code, reason] of Object.entries(reasons)) {
    const tx = new Lw485Transaction(EV, O);
    tx.onWrite(ok, 0);
    const o = outcome(tx.onReadResult(regs(42, Number(code)), 1));
    assert.ok(o.status === 'rejected' && o.reason === reason && o.deviceCode === Number(code), JSON.stringify(o));
  }
  const tx = new Lw485Transaction(EV, O);
  tx.onWrite(ok, 0);
  const o = outcome(tx.onReadResult(regs(42, 9), 1));
  assert.ok(o.status === 'unknown' && /result code 9/.test(o.detail));
});

test('exception 06 is retried busyAttempts times, then rejected busy; other exceptions at once', () => {
  const tx = new Lw485Transaction(EV, O);
  let a = tx.onWrite(exc(6), 0);
  let writes = 1;
  while (a.do === 'sleep') {
    assert.equal(a.why, 'busy');
    assert.equal(a.ms, O.busyRetryDelayMs);
    tx.onSlept();
    writes++;
    a = tx.onWrite(exc(6), 0);
  }
  assert.equal(writes, O.busyAttempts);
  const o = outcome(a);
  assert.ok(o.status === 'rejected' && o.reason === 'busy' && o.deviceCode === 6);
  const t2 = new Lw485Transaction(EV, O);
  const o2 = outcome(t2.onWrite(exc(2), 0));
  assert.ok(o2.status === 'rejected' && o2.reason === 'device_exception' && o2.deviceCode === 2);
});

test('not sent: rejected unreachable, unless an earlier attempt may have arrived', () => {
  const tx = new Lw485Transaction(EV, O);
  const o = outcome(tx.onWrite(notSent, 0));
  assert.ok(o.status === 'rejected' && o.reason === 'unreachable');
  const t2 = new Lw485Transaction(EV, O);
  assert.equal(t2.onWrite(lost, 0).do, 'sleep');
  t2.onSlept();
  // The breaker opened after the first lost reply: that one may have executed, so read back.
  assert.deepEqual(t2.onWrite(notSent, 0), { do: 'read-result' });
  const o2 = outcome(t2.onReadResult({ ok: false, failure: { kind: 'not-sent', detail: 'breaker-open', breakerOpen: true } }, 10_000));
  assert.ok(o2.status === 'unknown' && /not acknowledged/.test(o2.detail));
  const t3 = new Lw485Transaction(EV, O);
  t3.onWrite(lost, 0);
  t3.onSlept();
  assert.deepEqual(t3.onWrite(exc(3), 0), { do: 'read-result' });
});

test('events out of order are bugs, not silently absorbed', () => {
  const tx = new Lw485Transaction(EV, O);
  assert.throws(() => tx.onReadResult(regs(42, 1), 0), /read result while writing/);
  tx.onWrite(ok, 0);
  assert.throws(() => tx.onWrite(ok, 0), /write result while reading/);
  tx.onReadResult(regs(42, 1), 0);
  assert.throws(() => tx.onSlept(), /sleep after done/);
});
