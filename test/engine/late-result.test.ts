// A controller slower than its datasheet: the LW-485 promises a command's result within 200 ms,
// this one shows it after 1.2 s. The gateway dies right after the credit left and a new one
// starts at once, while the controller has not shown the result yet. Reading "not executed" then
// is no proof: the reconcile waits out the profile's result window and captures what the machine
// runs, instead of refunding a credit the machine is about to hold (a free cycle).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import { LW485_RESULT_WITHIN_MS } from '../../gateway/profiles/lw485-receipt.js';
import { CARDS, seedCards, startDaemon, startRoom, tempDir, testConfig, waitStatus, type TestRoom } from './harness.js';

const RESULT_DELAY_MS = 1200;

let sim: TestRoom;
let daemon: Daemon;
const tmp = tempDir();
const config = (): ReturnType<typeof testConfig> => testConfig({ port: sim.port, dbPath: tmp.file('ledger.db') });

before(async () => {
  sim = await startRoom({ commandResultDelayMs: RESULT_DELAY_MS });
  daemon = await startDaemon(config());
  seedCards(daemon.ledger, { alice: 10_000 });
  await waitStatus(daemon, 'W1', ['idle']);
});

after(async () => {
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

test('a restart inside the controller\'s result window waits for the result: captured, not refunded', async () => {
  assert.ok(RESULT_DELAY_MS < LW485_RESULT_WITHIN_MS, 'the window covers this controller');
  const h = daemon.ledger.hold({ method: 'card', funding: 'account', machineId: 'W1', program: 1, amountCents: 250, accountId: CARDS.alice.accountId, cardUid: CARDS.alice.uid, ruleSetVersion: 't', ruleId: 't' });
  assert.ok(h.ok);
  const vendId = h.ok ? h.vendId : '';
  const lastSeqBefore = sim.room.control.lw485(1).lastSeq;
  const sentAt = performance.now();
  const o = await daemon.machines.commander('W1').credit({ program: 1, amountCents: 250, beforeSend: (ev) => assert.ok(daemon.ledger.markCreditSent(vendId, ev).ok) });
  assert.equal(o.status, 'unknown', 'the write was answered, its result not shown within the command\'s own deadline');
  assert.equal(sim.room.control.lw485(1).lastSeq, lastSeqBefore, 'the controller has not shown the result yet');

  await daemon.stop();
  daemon = await startDaemon(config());
  const restartedIn = performance.now() - sentAt;

  assert.equal(daemon.ledger.getVend(vendId)?.state, 'captured', `settled by the result the controller showed (restart took ${Math.round(restartedIn)} ms)`);
  assert.equal(sim.room.control.lw485(1).creditCents, 250, 'the machine holds the credit that was captured');
  assert.equal(daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents, 10_000 - 250);
  assert.deepEqual(daemon.engine.blockedMachines(), []);
});
