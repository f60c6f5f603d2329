// Card vends end to end: the real Daemon (ledger file, bus master over TCP, poller, vend engine)
// against the simulated room. A paid vend is captured only on the machine's own confirmation;
// a machine that refuses gets the money back with the reason; a vend declined before the hold
// leaves no hold, only a decline record.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import { CARDS, auditKinds, outboxRecords, seedCards, startDaemon, startRoom, tempDir, testConfig, waitFor, waitStatus, type TestRoom } from './harness.js';

let sim: TestRoom;
let daemon: Daemon;
const tmp = tempDir();

before(async () => {
  sim = await startRoom();
  daemon = await startDaemon(testConfig({ port: sim.port, dbPath: tmp.file('ledger.db') }));
  seedCards(daemon.ledger, { bob: 100 });
  for (const id of ['W1', 'W2', 'D1', 'C1', 'C3']) await waitStatus(daemon, id, ['idle']);
});

after(async () => {
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

const swipe = (who: keyof typeof CARDS, machineId: string) => daemon.engine.cardSwipe({ readerId: `r-${machineId}`, uid: CARDS[who].uid, machineId });

function checkLedger(): void {
  const l = daemon.ledger;
  assert.equal(l.integrityCheck().ok, true);
  assert.equal(l.verifyAudit().ok, true, JSON.stringify(l.verifyAudit()));
  assert.deepEqual(l.selfCheck().problems, []);
}

function moneyRecords(vendId: string): string[] {
  return outboxRecords(daemon.ledger)
    .filter((r) => r.payload.vendId === vendId)
    .map((r) => r.type);
}

test('LW-485 washer: the program chosen on the panel is held, credited, read back and captured', async () => {
  sim.room.control.selectProgram(1, 2);
  await waitFor(() => daemon.machines.state('W1')?.selectedProgram === 2, 'a poll to see the selection on W1');
  const o = await swipe('alice', 'W1');
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  assert.equal(o.program, 2);
  assert.equal(o.amountCents, 350);
  const v = daemon.ledger.getVend(o.vendId);
  assert.equal(v?.state, 'captured');
  assert.equal(v?.capturedCents, 350);
  const w1 = sim.room.control.lw485(1);
  assert.equal(w1.stateName, 'CREDITED');
  assert.equal(w1.creditCents, 350);
  assert.equal(w1.activeProgram, 2);
  assert.deepEqual(v?.creditEvidence, { profile: 'lw485', unit: 1, seq: w1.lastSeq, code: 1 });
  assert.equal(daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents, 2000 - 350);
  assert.deepEqual(auditKinds(daemon.ledger, o.vendId), ['hold', 'credit_sent', 'capture']);
  assert.deepEqual(moneyRecords(o.vendId), ['vend.hold', 'vend.credit_sent', 'vend.capture']);
  checkLedger();
});

test('LW-485 dryer: minutes are bought by the price steps and show on the machine', async () => {
  const o = await swipe('alice', 'D1');
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  // Dryer program 1: 3 steps of 10 min at 100 ¢ minimum.
  assert.equal(o.amountCents, 300);
  const d1 = sim.room.control.lw485(9);
  assert.equal(d1.stateName, 'CREDITED');
  assert.equal(d1.creditMinutes, 30);
  assert.equal(d1.creditCents, 300);
  assert.equal(daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents, 2000 - 350 - 300);
  assert.deepEqual(moneyRecords(o.vendId), ['vend.hold', 'vend.credit_sent', 'vend.capture']);
  checkLedger();
});

test('RIO-8 coin machine: the pulse counter advanced by the coins the price buys, then captured', async () => {
  const before = sim.room.control.rio8(20).channels[0]?.pulseCounter ?? -1;
  const o = await swipe('alice', 'C1');
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  assert.equal(o.amountCents, 350);
  const ch = sim.room.control.rio8(20).channels[0];
  assert.equal(ch?.pulseCounter, before + 7);
  assert.equal(ch?.pulsesPending, 0);
  assert.equal(ch?.machine?.coins, 7);
  assert.equal(daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents, 2000 - 350 - 300 - 350);
  assert.deepEqual(auditKinds(daemon.ledger, o.vendId), ['hold', 'credit_sent', 'capture']);
  checkLedger();
});

test('the machine refuses the credit (a fault struck after the last poll): refunded with the reason', async () => {
  const balance = daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents ?? 0;
  // Fault and swipe in the same tick: the poller still shows W2 idle, so the hold is written and
  // the credit sent; the controller answers "fault" (result 4).
  sim.room.control.injectFault(2, 1);
  const o = await swipe('alice', 'W2');
  assert.equal(o.result, 'refunded', JSON.stringify(o));
  if (o.result !== 'refunded') return;
  assert.equal(o.reason, 'machine_fault');
  const v = daemon.ledger.getVend(o.vendId);
  assert.equal(v?.state, 'refunded');
  assert.equal(v?.finishReason, 'machine_fault');
  assert.equal(v?.refundedCents, v?.amountCents);
  assert.equal(daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents, balance, 'the hold came back whole');
  assert.deepEqual(auditKinds(daemon.ledger, o.vendId), ['hold', 'credit_sent', 'refund']);
  assert.deepEqual(moneyRecords(o.vendId), ['vend.hold', 'vend.credit_sent', 'vend.refund']);
  assert.equal(sim.room.control.lw485(2).creditCents, 0, 'nothing was credited');
  // Once the poller has seen the fault, the next swipe is declined before any hold.
  await waitStatus(daemon, 'W2', ['fault']);
  assert.deepEqual(await swipe('alice', 'W2'), { result: 'declined', reason: 'machine_fault', machineId: 'W2' });
  checkLedger();
});

test('declines before the hold: no vend is held, a decline is audited', async () => {
  const vendsBefore = daemon.ledger.recentVends(1000).length;
  const cases: Array<{ who: keyof typeof CARDS; machineId: string; reason: string }> = [
    { who: 'stranger', machineId: 'C3', reason: 'unknown_card' },
    { who: 'mallory', machineId: 'C3', reason: 'card_blocked' },
    { who: 'bob', machineId: 'C3', reason: 'insufficient_funds' }, // 100 ¢ for a 200 ¢ dryer
    { who: 'alice', machineId: 'W1', reason: 'machine_busy' }, // credited above, not started
  ];
  for (const c of cases) {
    const headBefore = daemon.ledger.auditHead().seq;
    const o = await swipe(c.who, c.machineId);
    assert.deepEqual(o, { result: 'declined', reason: c.reason, machineId: c.machineId }, `${c.who} at ${c.machineId}`);
    const added = daemon.ledger.readAudit(headBefore + 1, 100);
    assert.ok(added.some((r) => r.kind === 'decline' && r.reason === c.reason), `${c.reason}: decline audited`);
    if (c.reason === 'card_blocked') assert.ok(added.some((r) => r.kind === 'alert'), 'a blocked card raises an alert');
  }
  // A machine taken off the bus: once the poller marks it offline, the vend is declined.
  sim.room.control.setOffline(1, true);
  await waitStatus(daemon, 'W1', ['offline']);
  assert.deepEqual(await swipe('alice', 'W1'), { result: 'declined', reason: 'machine_offline', machineId: 'W1' });
  sim.room.control.setOffline(1, false);
  await waitStatus(daemon, 'W1', ['credited']);
  // Two swipes in the same instant at one machine: the second finds it taken.
  const [a, b] = await Promise.all([swipe('alice', 'C3'), swipe('alice', 'C3')]);
  assert.equal(a.result, 'captured', JSON.stringify(a));
  assert.deepEqual(b, { result: 'declined', reason: 'machine_busy', machineId: 'C3' });
  assert.equal(daemon.ledger.recentVends(1000).length, vendsBefore + 1, 'only the captured vend was held');
  checkLedger();
});
