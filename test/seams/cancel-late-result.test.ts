// Seam of the app's cancel with the result window: a controller that shows a command's result
// 1.7 s late (its sheet says 200 ms; the LW-485 receipt's window is 2 s). The CANCEL of a paid
// credit leaves with its refund planned (a refund intent); its answer does not come within the
// command's own deadline, and the gateway is restarted at once. The restart's read of the
// controller does not show the CANCEL yet: that is no proof it did not run. The customer whose
// credit the machine then cancels must get the refund, once. Real daemon, simulator and ledger
// file; the restart is a stop and a start on the same file, as in test/engine/late-result.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import { CARDS, seedCards, startDaemon, startRoom, tempDir, testConfig, waitFor, waitStatus, type TestRoom } from '../engine/harness.js';

const RESULT_DELAY_MS = 1700;
const ENGINE = { maxReadbacks: 30 };

let sim: TestRoom;
let daemon: Daemon;
const tmp = tempDir('seams-cancel-late-');
const config = (): ReturnType<typeof testConfig> => testConfig({ port: sim.port, dbPath: tmp.file('ledger.db') });

before(async () => {
  sim = await startRoom({ commandResultDelayMs: RESULT_DELAY_MS });
  daemon = await startDaemon(config(), undefined, { options: { engine: ENGINE } });
  seedCards(daemon.ledger, { alice: 10_000 });
  await waitStatus(daemon, 'W1', ['idle']);
});

after(async () => {
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

test('a cancel the controller shows late, the gateway restarted inside the window: the cancelled credit is refunded once', async () => {
  const balance0 = daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents ?? NaN;
  const o = await daemon.engine.cardSwipe({ readerId: 'r-W1', uid: CARDS.alice.uid, machineId: 'W1' });
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  await waitStatus(daemon, 'W1', ['credited']);

  const now = Math.floor(Date.now() / 1000);
  const r = await daemon.engine.commands.remote({ type: 'remote-command', roomId: 'test-room', id: 'seam-late-cancel', machineId: 'W1', kind: 'cancel', issuedAtSec: now - 1, expiresAtSec: now + 60 });
  assert.equal(r.status, 'unknown', `the answer is late: ${JSON.stringify(r)}`);
  await daemon.stop();
  daemon = await startDaemon(config(), undefined, { options: { engine: ENGINE } });

  // The controller runs the CANCEL: the credit is gone from the machine.
  await waitFor(() => sim.room.control.lw485(1).stateName === 'IDLE', 'the controller to run the cancel');
  assert.equal(sim.room.control.lw485(1).creditCents, 0);
  for (let i = 0; i < 50 && daemon.ledger.openRefundIntents().length > 0; i++) {
    await daemon.engine.retryTick();
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.equal(daemon.ledger.openRefundIntents().length, 0, 'the intent settled');
  assert.equal(daemon.ledger.capturedRefundOf(o.vendId), o.amountCents, 'the cancelled credit refunded in full');
  assert.equal(daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents, balance0, 'all of it back, once');
  assert.deepEqual(daemon.engine.blockedMachines(), []);
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
});
