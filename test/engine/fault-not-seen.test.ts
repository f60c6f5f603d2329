// A fault the running gateway did not see begin (issue 12's named gap): the fault refund could not
// be stored, the process died with its in-memory retry, and the machine is still in FAULT at the
// next start. How far the cycle ran is not known then, so no refund is guessed; the paid vend is
// put to the operator as a fault_refund_undecided alert, once per vend and run, never for a vend
// that already has a refund. Real daemon, simulator and ledger file; writes failed at the storage
// boundary.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import { WriteFaults } from '../../storage/index.js';
import { CARDS, auditKinds, outboxRecords, seedCards, startDaemon, startRoom, tempDir, testConfig, waitFor, waitStatus, type TestRoom } from './harness.js';

let sim: TestRoom;
let daemon: Daemon;
const faults = new WriteFaults();
const tmp = tempDir();

const start = async (): Promise<Daemon> => {
  const cfg = testConfig({ port: sim.port, dbPath: tmp.file('ledger.db'), faultRefund: { mode: 'prorated', withinShare: 0.9 } });
  return startDaemon(cfg, undefined, { ledgerWriteFaults: faults });
};

before(async () => {
  // 1 real second = 10 sim minutes: a 30-minute wash lasts 3 s.
  sim = await startRoom({ timeScale: 600 });
  daemon = await start();
  seedCards(daemon.ledger);
  for (const id of ['W1', 'W2']) await waitStatus(daemon, id, ['idle']);
});

after(async () => {
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

const undecided = (d: Daemon, vendId: string): number => auditKinds(d.ledger, vendId).filter((k) => k === 'alert').length;

test('the fault refund was not stored and the gateway died: at the restart the machine still in FAULT puts the paid vend to the operator, no refund guessed', async () => {
  const balance = daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents ?? NaN;
  const o = await daemon.engine.cardSwipe({ readerId: 'r', uid: CARDS.alice.uid, machineId: 'W1' });
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  sim.room.control.pressStart(1);
  await waitStatus(daemon, 'W1', ['running']);
  faults.fail({ code: 'SQLITE_IOERR', op: 'refundCaptured', count: Number.POSITIVE_INFINITY });
  sim.room.control.injectFault(1, 2);
  await waitFor(() => faults.injected >= 1, 'the fault refund tried and not stored');
  assert.equal(daemon.ledger.capturedRefundOf(o.vendId), null);
  // The crash: the retry this run kept in memory is gone.
  await daemon.stop();
  faults.clear();
  daemon = await start();
  await waitFor(() => undecided(daemon, o.vendId) === 1, 'the fault_refund_undecided alert');
  assert.equal(daemon.ledger.capturedRefundOf(o.vendId), null, 'no refund guessed');
  assert.equal(daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents, balance - o.amountCents);
  const alert = outboxRecords(daemon.ledger).find((r) => r.type === 'alert' && r.payload.code === 'fault_refund_undecided');
  assert.equal(alert?.payload.vendId, o.vendId);
  // A second restart with the machine still in FAULT: the operator was told; this run tells again once.
  await daemon.stop();
  daemon = await start();
  await waitFor(() => undecided(daemon, o.vendId) === 2, 'one alert per vend and run');
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
});

test('a fault whose refund was stored: the restart puts nothing to the operator', async () => {
  const o = await daemon.engine.cardSwipe({ readerId: 'r', uid: CARDS.alice.uid, machineId: 'W2' });
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  sim.room.control.pressStart(2);
  await waitStatus(daemon, 'W2', ['running']);
  sim.room.control.injectFault(2, 2);
  await waitFor(() => daemon.ledger.capturedRefundOf(o.vendId) !== null, 'the fault refund stored');
  await daemon.stop();
  daemon = await start();
  await waitStatus(daemon, 'W2', ['fault']);
  await daemon.engine.retryTick();
  assert.equal(undecided(daemon, o.vendId), 0);
});
