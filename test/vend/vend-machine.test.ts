import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createVendSession,
  isTerminal,
  recoverVendSession,
  stepVend,
  vendMachineOptionsSchema,
  type VendAction,
  type VendEvent,
  type VendSession,
} from '../../gateway/vend/vend-machine.js';
import { faultRefund, faultRefundPolicySchema } from '../../gateway/vend/fault-refund.js';

const REQ = { machineId: 'W1', command: 'credit', program: 2 } as const;
const EVIDENCE = { profile: 'lw485', unit: 3, seq: 41, code: 1 };
const OPTS = vendMachineOptionsSchema.parse({ maxReadbacks: 3 });

function run(events: VendEvent[], start: VendSession = createVendSession(REQ)): { session: VendSession; actions: VendAction[]; ignored: number } {
  let session = start;
  const actions: VendAction[] = [];
  let ignored = 0;
  for (const e of events) {
    const r = stepVend(session, e, OPTS);
    session = r.session;
    actions.push(...r.actions);
    if (r.ignored) ignored++;
  }
  return { session, actions, ignored };
}

const types = (actions: VendAction[]): string[] => actions.map((a) => (a.type === 'refund' ? `refund:${a.reason}` : a.type === 'record-decline' ? `decline:${a.reason}` : a.type));

const toCrediting: VendEvent[] = [{ type: 'begin' }, { type: 'authorized', amountCents: 350 }, { type: 'held', vendId: 'v1' }];

test('happy path: authorize, hold, credit, confirm by read-back, capture', () => {
  const r = run([...toCrediting, { type: 'credit-outcome', outcome: { status: 'accepted', evidence: EVIDENCE } }, { type: 'confirm-read', result: { verdict: 'confirmed' } }, { type: 'captured' }]);
  assert.equal(r.session.state, 'captured');
  assert.deepEqual(types(r.actions), ['record-hold', 'send-credit', 'mark-credit-sent', 'read-back', 'capture']);
  const send = r.actions.find((a) => a.type === 'send-credit');
  assert.deepEqual(send, { type: 'send-credit', vendId: 'v1', request: REQ, amountCents: 350 });
  assert.deepEqual(r.actions.find((a) => a.type === 'read-back'), { type: 'read-back', vendId: 'v1', evidence: EVIDENCE });
  assert.equal(r.session.creditsSent, 1);
  assert.ok(isTerminal(r.session.state));
});

test('accepted is not yet a capture: capture waits for the confirming read-back', () => {
  const r = run([...toCrediting, { type: 'credit-outcome', outcome: { status: 'accepted', evidence: EVIDENCE } }]);
  assert.equal(r.session.state, 'confirming');
  assert.ok(!r.actions.some((a) => a.type === 'capture'));
});

test('declines before a hold: risk/pricing decline, auth timeout, machine offline, error', () => {
  const declined = run([{ type: 'begin' }, { type: 'declined', reason: 'velocity', alert: { code: 'velocity', severity: 'warning', detail: 'x' } }]);
  assert.equal(declined.session.state, 'declined');
  assert.equal(declined.session.reason, 'velocity');
  assert.deepEqual(types(declined.actions), ['decline:velocity', 'alert']);
  assert.deepEqual(types(run([{ type: 'begin' }, { type: 'timeout' }]).actions), ['decline:auth_timeout']);
  assert.deepEqual(types(run([{ type: 'begin' }, { type: 'machine-offline' }]).actions), ['decline:machine_offline']);
  assert.deepEqual(types(run([{ type: 'begin' }, { type: 'error', detail: 'boom' }]).actions), ['decline:internal_error', 'alert']);
  assert.deepEqual(types(run([{ type: 'begin' }, { type: 'authorized', amountCents: 3.5 }]).actions), ['decline:internal_error', 'alert']);
  assert.deepEqual(types(run([{ type: 'begin' }, { type: 'authorized', amountCents: -1 }]).actions), ['decline:internal_error', 'alert']);
});

test('the ledger refuses or fails the hold: declined, nothing sent', () => {
  const refused = run([{ type: 'begin' }, { type: 'authorized', amountCents: 350 }, { type: 'declined', reason: 'insufficient_funds' }]);
  assert.deepEqual(types(refused.actions), ['record-hold', 'decline:insufficient_funds']);
  const failed = run([{ type: 'begin' }, { type: 'authorized', amountCents: 350 }, { type: 'error', detail: 'disk full' }]);
  assert.deepEqual(types(failed.actions), ['record-hold', 'decline:internal_error', 'alert']);
});

test('machine goes offline while the hold is written: refund at once, no credit sent', () => {
  const r = run([{ type: 'begin' }, { type: 'authorized', amountCents: 350 }, { type: 'machine-offline' }, { type: 'held', vendId: 'v1' }, { type: 'refunded' }]);
  assert.deepEqual(types(r.actions), ['record-hold', 'refund:machine_offline']);
  assert.equal(r.session.state, 'refunded');
  assert.equal(r.session.creditsSent, 0);
});

test('rejected by the device: refund with the mapped reason', () => {
  for (const [reason, code] of [
    ['door_open', 'door_open'],
    ['busy', 'machine_busy'],
    ['unreachable', 'machine_offline'],
    ['device_exception', 'credit_rejected'],
  ] as const) {
    const r = run([...toCrediting, { type: 'credit-outcome', outcome: { status: 'rejected', reason, deviceCode: null, detail: 'x' } }, { type: 'refunded' }]);
    assert.deepEqual(types(r.actions), ['record-hold', 'send-credit', `refund:${code}`]);
    assert.equal(r.session.state, 'refunded');
  }
});

test('unsupported command: refund, nothing on the machine', () => {
  const r = run([...toCrediting, { type: 'credit-outcome', outcome: { status: 'unsupported' } }]);
  assert.deepEqual(types(r.actions), ['record-hold', 'send-credit', 'refund:command_unsupported']);
  assert.equal(r.session.state, 'refunding');
});

test('unknown outcome: read back, never resend; the read-back decides capture or refund', () => {
  const unknown: VendEvent = { type: 'credit-outcome', outcome: { status: 'unknown', detail: 'reply lost', evidence: EVIDENCE } };
  const confirmed = run([...toCrediting, unknown, { type: 'confirm-read', result: { verdict: 'confirmed' } }]);
  assert.deepEqual(types(confirmed.actions), ['record-hold', 'send-credit', 'alert', 'read-back', 'capture']);
  assert.deepEqual(confirmed.actions.find((a) => a.type === 'read-back'), { type: 'read-back', vendId: 'v1', evidence: EVIDENCE });
  const notExecuted = run([...toCrediting, unknown, { type: 'confirm-read', result: { verdict: 'not-executed' } }]);
  assert.deepEqual(types(notExecuted.actions).at(-1), 'refund:credit_timeout');
  const rejected = run([...toCrediting, unknown, { type: 'confirm-read', result: { verdict: 'rejected', reason: 'door_open' } }]);
  assert.deepEqual(types(rejected.actions).at(-1), 'refund:door_open');
  for (const r of [confirmed, notExecuted, rejected]) assert.equal(r.actions.filter((a) => a.type === 'send-credit').length, 1);
});

test('timeout or offline while crediting is an unknown outcome, not a refund', () => {
  const t = run([...toCrediting, { type: 'timeout' }]);
  assert.equal(t.session.state, 'confirming');
  assert.deepEqual(types(t.actions).slice(-2), ['alert', 'read-back']);
  const t2 = run([...toCrediting, { type: 'timeout' }, { type: 'confirm-read', result: { verdict: 'not-executed' } }]);
  assert.deepEqual(types(t2.actions).at(-1), 'refund:credit_timeout', 'timeout → refund with reason, once the device says not executed');
  const off = run([...toCrediting, { type: 'machine-offline' }, { type: 'confirm-read', result: { verdict: 'not-executed' } }]);
  assert.deepEqual(types(off.actions).at(-1), 'refund:machine_offline');
  const err = run([...toCrediting, { type: 'error', detail: 'bug' }, { type: 'confirm-read', result: { verdict: 'confirmed' } }]);
  assert.equal(err.session.state, 'capturing');
});

test('read-backs that stay pending or unknown are retried up to the limit, then the vend is unresolved', () => {
  const accepted: VendEvent = { type: 'credit-outcome', outcome: { status: 'accepted', evidence: EVIDENCE } };
  const r = run([
    ...toCrediting,
    accepted,
    { type: 'confirm-read', result: { verdict: 'pending' } },
    { type: 'timeout' },
    { type: 'confirm-read', result: { verdict: 'unknown', detail: 'no reply' } },
  ]);
  assert.equal(r.session.state, 'unresolved');
  assert.equal(r.actions.filter((a) => a.type === 'read-back').length, 3);
  assert.deepEqual(types(r.actions).at(-1), 'alert');
  assert.ok(!r.actions.some((a) => a.type === 'capture' || a.type === 'refund'));
  const later = run([{ type: 'confirm-read', result: { verdict: 'unknown', detail: 'still' } }, { type: 'timeout' }, { type: 'confirm-read', result: { verdict: 'confirmed' } }], r.session);
  assert.deepEqual(types(later.actions), ['capture']);
  assert.equal(later.ignored, 1, 'a timeout means nothing to an unresolved vend');
});

test('machine offline while confirming: unresolved, held until the machine answers', () => {
  const r = run([...toCrediting, { type: 'credit-outcome', outcome: { status: 'accepted', evidence: EVIDENCE } }, { type: 'machine-offline' }]);
  assert.equal(r.session.state, 'unresolved');
  const back = run([{ type: 'crash-recovery', verdict: 'executed-accepted' }], r.session);
  assert.deepEqual(types(back.actions), ['capture']);
});

test('crash recovery: only the device verdict resolves; unknown stays unresolved', () => {
  const durable = { vendId: 'v9', request: REQ, amountCents: 350, evidence: EVIDENCE, creditSent: true };
  const s = recoverVendSession(durable);
  assert.equal(s.state, 'unresolved');
  assert.deepEqual(types(run([{ type: 'crash-recovery', verdict: 'executed-accepted' }], s).actions), ['capture']);
  assert.deepEqual(types(run([{ type: 'crash-recovery', verdict: 'not-executed' }], s).actions), ['refund:not_executed']);
  assert.deepEqual(types(run([{ type: 'crash-recovery', verdict: 'executed-rejected', reason: 'fault' }], s).actions), ['refund:machine_fault']);
  assert.deepEqual(types(run([{ type: 'crash-recovery', verdict: 'executed-rejected' }], s).actions), ['refund:credit_rejected']);
  const u = run([{ type: 'crash-recovery', verdict: 'unknown' }, { type: 'crash-recovery', verdict: 'unknown' }], s);
  assert.equal(u.session.state, 'unresolved');
  assert.deepEqual(u.actions, []);
  const withEvidence = run([{ type: 'crash-recovery', verdict: 'unknown', evidence: { seq: 42 } }], recoverVendSession({ ...durable, evidence: null }));
  assert.deepEqual(withEvidence.session.evidence, { seq: 42 }, 'what the reconcile read is kept for the next try');
  const hold = recoverVendSession({ ...durable, evidence: null, creditSent: false });
  assert.equal(hold.state, 'unresolved', 'even a hold never marked sent asks the device');
  assert.equal(run([{ type: 'credit-outcome', outcome: { status: 'accepted', evidence: 1 } }], hold).ignored, 1);
});

test('late and duplicate events are ignored and flagged, never acted on twice', () => {
  const done = run([...toCrediting, { type: 'credit-outcome', outcome: { status: 'accepted', evidence: EVIDENCE } }, { type: 'confirm-read', result: { verdict: 'confirmed' } }]);
  const late = run(
    [
      { type: 'credit-outcome', outcome: { status: 'accepted', evidence: EVIDENCE } },
      { type: 'confirm-read', result: { verdict: 'confirmed' } },
      { type: 'crash-recovery', verdict: 'not-executed' },
      { type: 'refunded' },
    ],
    done.session,
  );
  assert.deepEqual(late.actions, []);
  assert.equal(late.ignored, 4);
  const dupHeld = run([{ type: 'begin' }, { type: 'authorized', amountCents: 350 }, { type: 'held', vendId: 'v1' }, { type: 'held', vendId: 'v1' }]);
  assert.equal(dupHeld.actions.filter((a) => a.type === 'send-credit').length, 1);
  assert.equal(dupHeld.ignored, 1);
  assert.equal(run([{ type: 'held', vendId: 'v1' }]).ignored, 1, 'idle ignores everything but begin');
  assert.equal(run([{ type: 'begin' }, { type: 'authorized', amountCents: 350 }, { type: 'held', vendId: '' }]).ignored, 1);
  const refunding = run([...toCrediting, { type: 'credit-outcome', outcome: { status: 'unsupported' } }, { type: 'confirm-read', result: { verdict: 'confirmed' } }]);
  assert.equal(refunding.session.state, 'refunding');
  assert.equal(refunding.ignored, 1);
});

test('the credit answer arriving after the watchdog: recorded or refunded on its word, never captured by itself', () => {
  const timedOut = run([...toCrediting, { type: 'timeout' }]);
  assert.equal(timedOut.session.evidence, null);
  const acc = run([{ type: 'credit-outcome', outcome: { status: 'accepted', evidence: EVIDENCE } }], timedOut.session);
  assert.deepEqual(types(acc.actions), ['mark-credit-sent']);
  assert.equal(acc.session.state, 'confirming');
  assert.deepEqual(acc.session.evidence, EVIDENCE);
  const dup = run([{ type: 'credit-outcome', outcome: { status: 'rejected', reason: 'busy' } }], acc.session);
  assert.equal(dup.ignored, 1, 'one answer per command');
  const rej = run([{ type: 'credit-outcome', outcome: { status: 'rejected', reason: 'door_open', deviceCode: 3 } }], timedOut.session);
  assert.deepEqual(types(rej.actions), ['refund:door_open']);
  const unk = run([{ type: 'credit-outcome', outcome: { status: 'unknown', detail: 'x', evidence: EVIDENCE } }, { type: 'confirm-read', result: { verdict: 'confirmed' } }], timedOut.session);
  assert.deepEqual(types(unk.actions), ['capture']);
  const exhausted = run([{ type: 'timeout' }, { type: 'timeout' }, { type: 'timeout' }], timedOut.session);
  assert.equal(exhausted.session.state, 'unresolved');
  assert.deepEqual(types(run([{ type: 'credit-outcome', outcome: { status: 'unsupported' } }], exhausted.session).actions), ['refund:command_unsupported']);
  const normal = run([...toCrediting, { type: 'credit-outcome', outcome: { status: 'unknown', detail: 'lost' } }, { type: 'credit-outcome', outcome: { status: 'accepted', evidence: EVIDENCE } }]);
  assert.equal(normal.ignored, 1, 'the unknown was the answer');
});

test('a free vend (0 ¢) runs the same path', () => {
  const r = run([{ type: 'begin' }, { type: 'authorized', amountCents: 0 }, { type: 'held', vendId: 'v0' }, { type: 'credit-outcome', outcome: { status: 'accepted', evidence: EVIDENCE } }, { type: 'confirm-read', result: { verdict: 'confirmed' } }, { type: 'captured' }]);
  assert.equal(r.session.state, 'captured');
});

test('faultRefund: full or prorated by remaining time, only within the configured share', () => {
  const prorated = faultRefundPolicySchema.parse({ mode: 'prorated', withinShare: 0.5 });
  const full = faultRefundPolicySchema.parse({ mode: 'full', withinShare: 0.25 });
  const cycle = { paidCents: 350, durationSec: 2700, remainingSec: 2000 };
  assert.deepEqual(faultRefund(prorated, cycle), { reason: 'fault_abort', rule: 'prorated', refundCents: 260, elapsedShare: 700 / 2700 });
  assert.equal(faultRefund(full, cycle).refundCents, 0, '26 % done is past a 25 % share');
  assert.equal(faultRefund(full, cycle).rule, 'too-late');
  assert.equal(faultRefund(full, { ...cycle, remainingSec: 2100 }).refundCents, 350);
  assert.equal(faultRefund(prorated, { ...cycle, remainingSec: 1350 }).refundCents, 175, 'exactly half done is still within a 0.5 share');
  assert.equal(faultRefund(prorated, { ...cycle, remainingSec: 1349 }).rule, 'too-late');
  assert.equal(faultRefund(prorated, { paidCents: 100, durationSec: 3, remainingSec: 2 }).refundCents, 67, 'a fraction of a cent goes to the customer');
  assert.equal(faultRefund(prorated, { ...cycle, remainingSec: 99_999 }).refundCents, 350, 'remaining is clamped to the duration');
  assert.equal(faultRefund(prorated, { paidCents: 350, durationSec: 0, remainingSec: 0 }).refundCents, 350, 'unknown duration: full');
  const withMin = faultRefundPolicySchema.parse({ withinShare: 1, minRefundCents: 50 });
  assert.equal(faultRefund(withMin, { paidCents: 350, durationSec: 2700, remainingSec: 300 }).rule, 'below-minimum');
  assert.deepEqual(faultRefundPolicySchema.parse({}), { mode: 'prorated', withinShare: 1, minRefundCents: 0 });
  assert.throws(() => faultRefundPolicySchema.parse({ withinShare: 1.5 }));
});

test('capturing: a capture the ledger did not store stays capturing and is retried, never turned into a refund', () => {
  const confirmed = run([...toCrediting, { type: 'credit-outcome', outcome: { status: 'accepted', evidence: EVIDENCE } }, { type: 'confirm-read', result: { verdict: 'confirmed' } }]);
  assert.equal(confirmed.session.state, 'capturing');
  assert.equal(isTerminal(confirmed.session.state), false, 'not done until stored');
  const failed = run([{ type: 'error', detail: 'SQLITE_IOERR' }, { type: 'confirm-read', result: { verdict: 'not-executed' } }, { type: 'timeout' }], confirmed.session);
  assert.equal(failed.session.state, 'capturing');
  assert.deepEqual(types(failed.actions), [], 'no refund, no alert loop');
  const retried = run([{ type: 'retry' }], failed.session);
  assert.deepEqual(types(retried.actions), ['capture']);
  assert.equal(run([{ type: 'retry' }, { type: 'captured' }], failed.session).session.state, 'captured');
  const recovered = run([{ type: 'crash-recovery', verdict: 'executed-accepted' }], recoverVendSession({ vendId: 'v1', request: REQ, amountCents: 350, evidence: EVIDENCE, creditSent: true }));
  assert.equal(recovered.session.state, 'capturing');
});

test('refunding: a refund the ledger did not store stays refunding and is retried with its reason', () => {
  const r = run([...toCrediting, { type: 'credit-outcome', outcome: { status: 'rejected', reason: 'door_open' } }, { type: 'error', detail: 'SQLITE_FULL' }]);
  assert.equal(r.session.state, 'refunding');
  const again = run([{ type: 'retry' }], r.session);
  assert.deepEqual(types(again.actions), ['refund:door_open']);
  assert.equal(run([{ type: 'refunded' }], again.session).session.state, 'refunded');
});
