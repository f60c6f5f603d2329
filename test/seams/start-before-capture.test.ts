// A customer who presses Start before the gateway has read its credit back: the poller sees the
// cycle running while the vend is still unsettled, so the fault watch cannot bind the cycle at its
// start (an older vend would be the wrong payer). The capture binds it (FaultWatch.vendCaptured,
// told by the capture action), so a fault later in that cycle still gives the unused share back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Ledger } from '../../storage/index.js';
import type { RoomBus } from '../../gateway/machines/room-bus.js';
import type { VendEngine } from '../../gateway/engine/vend-engine.js';
import { faultRefundPolicySchema } from '../../gateway/vend/fault-refund.js';
import { CARDS, waitFor, type TestRoom } from '../engine/harness.js';
import { startEngineRoom, type EngineRoom } from '../engine/engine-room.js';

const policy = faultRefundPolicySchema.parse({ mode: 'prorated', withinShare: 0.5 });
let room: EngineRoom;
let sim: TestRoom;
let ledger: Ledger;
let bus: RoomBus;
let engine: VendEngine;

before(async () => {
  // 1 real second = 2 sim minutes: a 30-minute wash lasts 15 s. A read-back long after the
  // credit: time for Start to be pressed and polled before the capture.
  room = await startEngineRoom({ timeScale: 120, idle: ['W1', 'W2'], engine: { faultRefund: policy, timings: { readbackDelayMs: 1500 } } });
  ({ sim, ledger, bus, engine } = room);
});

after(() => room.close());

test('Start pressed before the capture: the cycle is bound by the capture, and a fault in it refunds the unused share', async () => {
  const balance = ledger.balance(CARDS.alice.accountId)?.balanceCents ?? 0;
  const swipe = engine.cardSwipe({ readerId: 'r', uid: CARDS.alice.uid, machineId: 'W1' });
  await waitFor(() => sim.room.control.lw485(1).stateName === 'CREDITED', 'W1 credited on the machine');
  sim.room.control.pressStart(1);
  await waitFor(() => bus.poller.state('W1')?.status === 'running', 'W1 seen running');
  assert.equal(ledger.unfinishedVends().length, 1, 'the vend is still unsettled while the cycle runs');
  const o = await swipe;
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  assert.equal(engine.faults.cycleOf('W1')?.vendId, o.vendId, 'the capture bound the running cycle to its vend');
  sim.room.control.injectFault(1, 2);
  await waitFor(() => engine.faults.decided.some((d) => d.machineId === 'W1'), 'the fault refund decision');
  const refunded = ledger.capturedRefundOf(o.vendId) ?? 0;
  assert.ok(refunded > 0 && refunded <= o.amountCents, `refunded ${refunded} of ${o.amountCents}`);
  assert.equal(ledger.balance(CARDS.alice.accountId)?.balanceCents, balance - o.amountCents + refunded);
  assert.deepEqual(ledger.selfCheck().problems, []);
});
