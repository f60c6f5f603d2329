// Seam of a clean stop (SIGTERM) with the periodic reconcile: a blocked machine's unfinished vend
// is being settled by the retry timer, which is waiting out the LW-485's result window, when the
// daemon is told to stop. The stop must let that settle finish before the buses and the ledger
// close: the customer's refund is stored by this run, not left for the next start, and nothing
// writes to a closed ledger. Real daemon, simulator and ledger file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import { readLedger } from './run-gateway.js';
import { CARDS, auditKinds, seedCards, startDaemon, startRoom, tempDir, testConfig, waitStatus, type TestRoom } from '../engine/harness.js';

let sim: TestRoom;
let daemon: Daemon;
const tmp = tempDir('seams-stop-retry-');
const dbPath = tmp.file('ledger.db');

before(async () => {
  sim = await startRoom();
  daemon = await startDaemon(testConfig({ port: sim.port, dbPath }));
  seedCards(daemon.ledger, { alice: 10_000 });
  await waitStatus(daemon, 'W1', ['idle']);
});

after(async () => {
  await sim.close();
  tmp.cleanup();
});

test('a clean stop while the retry timer waits out the result window: the settle finishes and is stored before the ledger closes', async () => {
  const balance0 = daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents ?? NaN;
  // A credit whose evidence is stored and whose frame never left, its machine blocked (as a vend
  // whose machine went silent mid-vend leaves it).
  const h = daemon.ledger.hold({ method: 'card', funding: 'account', machineId: 'W1', program: 1, amountCents: 250, accountId: CARDS.alice.accountId, cardUid: CARDS.alice.uid, ruleSetVersion: 't', ruleId: 't' });
  assert.ok(h.ok);
  const vendId = h.ok ? h.vendId : '';
  await assert.rejects(
    daemon.machines.commander('W1').credit({
      program: 1,
      amountCents: 250,
      beforeSend: (ev) => {
        assert.ok(daemon.ledger.markCreditSent(vendId, ev).ok);
        throw new Error('staged: the frame never left');
      },
    }),
  );
  daemon.engine.blockMachine('W1');
  const errors: unknown[] = [];
  const onRejection = (e: unknown): void => {
    errors.push(e);
  };
  process.on('unhandledRejection', onRejection);
  try {
    void daemon.engine.retryTick();
    await new Promise((r) => setTimeout(r, 300)); // inside the 2 s window
    await daemon.stop();
    await new Promise((r) => setTimeout(r, 2500)); // past the window: nothing may still be running
  } finally {
    process.off('unhandledRejection', onRejection);
  }
  assert.deepEqual(errors, []);
  readLedger(dbPath, (l) => {
    assert.equal(l.getVend(vendId)?.state, 'refunded', 'settled by this run before it stopped');
    assert.deepEqual(auditKinds(l, vendId), ['hold', 'credit_sent', 'refund']);
    assert.equal(l.balance(CARDS.alice.accountId)?.balanceCents, balance0);
    assert.deepEqual(l.selfCheck().problems, []);
  });
});
