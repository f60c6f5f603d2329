// Seam of the app's add-time with a fault refund: the dryer takes the ADD_TIME and faults moments
// later, while the engine is still reading back and capturing the add-time vend. The minutes were
// bought on the cycle the fault cut short, so they are part of that cycle's money: the fault
// refunds the same unused share of the cycle's vend and of the add-time vend, however the fault
// and the capture interleave. The fault is raised by the simulator's own control at the instant
// the ADD_TIME frame has been served (a hook on SimRoom.serve, as in test/engine/wire-faults.test.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import type { ReplyPlan } from '../../simulator/index.js';
import { CARDS, seedCards, startDaemon, startRoom, tempDir, testConfig, waitFor, waitStatus, type TestRoom } from '../engine/harness.js';

const FAULT_REFUND = { mode: 'prorated' as const, withinShare: 0.9 };
/** fc16 to the LW-485 command block: seq, then the command code (5 = ADD_TIME). */
const ADD_TIME = 5;
const DRYER_OVERHEAT = 3;

let sim: TestRoom;
let daemon: Daemon;
const tmp = tempDir('seams-add-time-');
/** ms after the ADD_TIME frame is served that the dryer faults; null: no fault armed. */
let faultAfterAddTimeMs: number | null = null;

before(async () => {
  sim = await startRoom();
  const serve = sim.room.serve.bind(sim.room);
  sim.room.serve = (unit: number, pdu: Buffer): ReplyPlan | null => {
    const plan = serve(unit, pdu);
    const addTime = unit === 9 && pdu[0] === 16 && pdu.readUInt16BE(1) === 256 && pdu.length >= 10 && pdu.readUInt16BE(8) === ADD_TIME;
    if (addTime && faultAfterAddTimeMs !== null) {
      const ms = faultAfterAddTimeMs;
      faultAfterAddTimeMs = null;
      setTimeout(() => sim.room.control.injectFault(9, DRYER_OVERHEAT), ms);
    }
    return plan;
  };
  daemon = await startDaemon(testConfig({ port: sim.port, dbPath: tmp.file('ledger.db'), faultRefund: FAULT_REFUND }));
  seedCards(daemon.ledger, { alice: 10_000 });
  await waitStatus(daemon, 'D1', ['idle']);
});

after(async () => {
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

test('an add-time the dryer took, then a fault before its vend is captured: the cycle\'s vend and the add-time vend each get the unused share back', async () => {
  const balance0 = daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents ?? NaN;
  const o = await daemon.engine.cardSwipe({ readerId: 'r-D1', uid: CARDS.alice.uid, machineId: 'D1' });
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  sim.room.control.pressStart(9);
  await waitStatus(daemon, 'D1', ['running']);
  await new Promise((r) => setTimeout(r, 300));

  faultAfterAddTimeMs = 60;
  const r = await daemon.engine.commands.remote({ type: 'remote-command', roomId: 'test-room', id: 'seam-add-time', machineId: 'D1', kind: 'addTime', args: { minutes: 10, amountCents: 800 }, issuedAtSec: 1, expiresAtSec: 2 });
  assert.equal(r.status, 'accepted', `the dryer took the minutes: ${JSON.stringify(r)}`);
  const addVend = daemon.ledger.recentVends(5).find((v) => v.machineId === 'D1' && v.machineKind === null);
  assert.ok(addVend, 'an add-time vend');
  assert.equal(addVend.state, 'captured');
  await waitStatus(daemon, 'D1', ['fault']);
  await waitFor(() => daemon.engine.faults.decided.filter((d) => d.machineId === 'D1').length >= 2, `a decision for both vends: ${JSON.stringify(daemon.engine.faults.decided)}`, 5_000).catch(() => undefined);

  const cycleBack = daemon.ledger.capturedRefundOf(o.vendId) ?? 0;
  const addBack = daemon.ledger.capturedRefundOf(addVend.vendId) ?? 0;
  const paidAdd = addVend.capturedCents ?? 0;
  console.log(`  cycle ${o.amountCents} ¢ -> ${cycleBack} ¢ back; add-time ${paidAdd} ¢ -> ${addBack} ¢ back; decisions ${JSON.stringify(daemon.engine.faults.decided)}`);
  assert.ok(cycleBack > 0, 'the cycle cut short early gives most of it back');
  assert.ok(addBack > 0, 'the add-time bought on that cycle gives its unused share back too');
  assert.ok(addBack <= paidAdd && cycleBack <= o.amountCents);
  assert.equal(daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents, balance0 - o.amountCents - paidAdd + cycleBack + addBack);
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
});
