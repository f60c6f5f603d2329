// Seams of a restart with fault refunds: the gateway restarts while a paid cycle runs (an update,
// a crash), then the machine faults early. The cycle's binding to the vend that paid it lives in
// memory; docs/vend-engine.md says a restart rebuilds it from the latest captured vend on the
// machine. The buses start before the engine, so the poller has already seen the machine
// running when the fault watch starts: that first sight must bind the cycle too. Real daemon,
// simulator (60x time: a 30-minute wash lasts 30 s) and ledger file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import { faultRefund, faultRefundPolicySchema } from '../../gateway/vend/fault-refund.js';
import { WriteFaults } from '../../storage/index.js';
import { CARDS, seedCards, startDaemon, startRoom, tempDir, testConfig, waitFor, waitStatus, type TestRoom } from '../engine/harness.js';

const FAULT_REFUND = { mode: 'prorated' as const, withinShare: 0.9 };
const policy = faultRefundPolicySchema.parse(FAULT_REFUND);
let sim: TestRoom;
let daemon: Daemon;
const tmp = tempDir('seams-mid-cycle-');
const config = (): ReturnType<typeof testConfig> => testConfig({ port: sim.port, dbPath: tmp.file('ledger.db'), faultRefund: FAULT_REFUND });

before(async () => {
  sim = await startRoom({ timeScale: 60 });
  daemon = await startDaemon(config());
  seedCards(daemon.ledger, { alice: 10_000 });
  for (const id of ['W1', 'W2']) await waitStatus(daemon, id, ['idle']);
});

after(async () => {
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

test('restarted while a paid wash runs, then the washer faults early: the unused share refunded once, as without the restart', async () => {
  const balance0 = daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents ?? NaN;
  const o = await daemon.engine.cardSwipe({ readerId: 'r-W1', uid: CARDS.alice.uid, machineId: 'W1' });
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  sim.room.control.pressStart(1);
  await waitStatus(daemon, 'W1', ['running']);
  await daemon.stop();
  daemon = await startDaemon(config());
  assert.equal(daemon.machines.state('W1')?.status, 'running', 'still running after the restart');

  sim.room.control.injectFault(1, 2);
  await waitStatus(daemon, 'W1', ['fault']);
  await waitFor(() => daemon.engine.faults.decided.some((d) => d.machineId === 'W1'), 'the fault refund decision', 10_000).catch(() => undefined);
  const frozen = sim.room.control.lw485(1).remainingSec;
  const expected = faultRefund(policy, { paidCents: o.amountCents, durationSec: 30 * 60, remainingSec: frozen });
  assert.ok(expected.refundCents > 0, `the fault came early enough for a refund: ${JSON.stringify(expected)}`);
  assert.equal(daemon.ledger.capturedRefundOf(o.vendId), expected.refundCents, `refunded by the frozen remaining time: ${JSON.stringify(daemon.engine.faults.decided)}`);
  assert.equal(daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents, balance0 - o.amountCents + expected.refundCents);
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
});

test('a washer off the bus mid-cycle and back, then a fault: the binding outlives the silence, the unused share refunded', async () => {
  const o = await daemon.engine.cardSwipe({ readerId: 'r-W2', uid: CARDS.alice.uid, machineId: 'W2' });
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  sim.room.control.pressStart(2);
  await waitStatus(daemon, 'W2', ['running']);
  sim.room.control.setOffline(2, true);
  await waitStatus(daemon, 'W2', ['offline']);
  sim.room.control.setOffline(2, false);
  await waitStatus(daemon, 'W2', ['running']);
  sim.room.control.injectFault(2, 2);
  await waitStatus(daemon, 'W2', ['fault']);
  await waitFor(() => daemon.engine.faults.decided.some((d) => d.machineId === 'W2'), 'the fault refund decision', 10_000).catch(() => undefined);
  const expected = faultRefund(policy, { paidCents: o.amountCents, durationSec: 30 * 60, remainingSec: sim.room.control.lw485(2).remainingSec });
  assert.ok(expected.refundCents > 0, JSON.stringify(expected));
  assert.equal(daemon.ledger.capturedRefundOf(o.vendId), expected.refundCents, `refunded by the frozen remaining time: ${JSON.stringify(daemon.engine.faults.decided)}`);
});

test('a dryer restarted mid-cycle, then a fault: refunded, never more than the unused share of what was bought', async () => {
  // Real time here: the bound on a dryer's length is the wall-clock time since its capture, which a
  // sped-up simulator would make meaningless.
  const room = await startRoom();
  const dir = tempDir('seams-mid-cycle-dryer-');
  const cfg = (): ReturnType<typeof testConfig> => testConfig({ port: room.port, dbPath: dir.file('ledger.db'), faultRefund: FAULT_REFUND });
  let d = await startDaemon(cfg());
  try {
    seedCards(d.ledger, { alice: 10_000 });
    await waitStatus(d, 'D1', ['idle']);
    const o = await d.engine.cardSwipe({ readerId: 'r-D1', uid: CARDS.alice.uid, machineId: 'D1' });
    assert.equal(o.result, 'captured', JSON.stringify(o));
    if (o.result !== 'captured') return;
    // The customer takes a moment before pressing Start: the cycle starts after the capture.
    await new Promise((r) => setTimeout(r, 1000));
    room.room.control.pressStart(9);
    await waitStatus(d, 'D1', ['running']);
    const boughtSec = room.room.control.lw485(9).remainingSec;
    await new Promise((r) => setTimeout(r, 1000));
    await d.stop();
    d = await startDaemon(cfg());
    await new Promise((r) => setTimeout(r, 1000));
    room.room.control.injectFault(9, 3);
    await waitStatus(d, 'D1', ['fault']);
    await waitFor(() => d.engine.faults.decided.some((x) => x.machineId === 'D1'), 'the fault refund decision', 10_000).catch(() => undefined);
    const fair = faultRefund(policy, { paidCents: o.amountCents, durationSec: Math.ceil(boughtSec / 60) * 60, remainingSec: room.room.control.lw485(9).remainingSec });
    const refunded = d.ledger.capturedRefundOf(o.vendId) ?? 0;
    console.log(`  dryer: paid ${o.amountCents} ¢ for ${Math.round(boughtSec / 60)} min, unused share ${fair.refundCents} ¢, refunded ${refunded} ¢ after the restart`);
    assert.ok(refunded > 0, `refunded: ${JSON.stringify(d.engine.faults.decided)}`);
    assert.ok(refunded <= fair.refundCents, `never more than the unused share (${refunded} > ${fair.refundCents})`);
    assert.deepEqual(d.ledger.selfCheck().problems, []);
  } finally {
    await d.stop();
    await room.close();
    dir.cleanup();
  }
});

test('a capture not stored, Start pressed, the gateway restarted mid-cycle: the reconcile captures the vend and binds the running cycle to it, a fault refunds its unused share', async () => {
  const faults = new WriteFaults();
  await daemon.stop();
  daemon = await startDaemon(config(), undefined, { ledgerWriteFaults: faults });
  await waitStatus(daemon, 'W1', ['idle', 'done', 'fault']);
  if (daemon.machines.state('W1')?.status !== 'idle') {
    sim.room.control.resolveFaultCondition(1);
    await daemon.engine.commands.operator('W1', 'clear-fault');
    await waitStatus(daemon, 'W1', ['idle']);
  }
  faults.fail({ code: 'SQLITE_IOERR', op: 'capture' });
  const o = await daemon.engine.cardSwipe({ readerId: 'r-W1', uid: CARDS.alice.uid, machineId: 'W1' });
  assert.equal(o.result, 'unresolved', JSON.stringify(o));
  if (o.result !== 'unresolved') return;
  // The customer starts the credited machine; the gateway restarts before it stored the capture.
  sim.room.control.pressStart(1);
  await waitStatus(daemon, 'W1', ['running']);
  await daemon.stop();
  faults.clear();
  daemon = await startDaemon(config());
  assert.equal(daemon.ledger.getVend(o.vendId)?.state, 'captured', 'captured by the start-up reconcile (the machine ran it)');

  sim.room.control.injectFault(1, 2);
  await waitStatus(daemon, 'W1', ['fault']);
  await waitFor(() => daemon.engine.faults.decided.some((d) => d.vendId === o.vendId), 'the fault refund decision', 10_000).catch(() => undefined);
  const paid = daemon.ledger.getVend(o.vendId)?.capturedCents ?? NaN;
  const expected = faultRefund(policy, { paidCents: paid, durationSec: 30 * 60, remainingSec: sim.room.control.lw485(1).remainingSec });
  assert.ok(expected.refundCents > 0, JSON.stringify(expected));
  assert.equal(daemon.ledger.capturedRefundOf(o.vendId), expected.refundCents, `refunded by the frozen remaining time: ${JSON.stringify(daemon.engine.faults.decided)}`);
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
});
