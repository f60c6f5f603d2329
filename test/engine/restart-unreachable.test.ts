// Seams class a (issue 12): a credit vend a crash left `credit_sent` whose machine does not
// answer when the gateway starts again. The machine ran the credit, so it must never be
// refunded; it cannot be proven yet, so it is not captured either: it stays held, its machine
// blocked, an alert tells the operator, and the first answer of the machine captures it. Real
// daemon, simulator and ledger file; the capture's write failed at the storage boundary, the
// daemon stopped (its memory gone) and a new one started on the same file with the unit silent.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import { WriteFaults } from '../../storage/index.js';
import { CARDS, seedCards, startDaemon, startRoom, tempDir, testConfig, waitStatus, type TestRoom } from './harness.js';

let sim: TestRoom;
let daemon: Daemon;
const faults = new WriteFaults();
const tmp = tempDir();
const config = () => testConfig({ port: sim.port, dbPath: tmp.file('ledger.db') });

before(async () => {
  sim = await startRoom();
  daemon = await startDaemon(config(), undefined, { ledgerWriteFaults: faults });
  seedCards(daemon.ledger);
  for (const id of ['W1', 'W2', 'D1']) await waitStatus(daemon, id, ['idle']);
});

after(async () => {
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

test('class a: a credit the machine ran, left credit_sent by a crash, machine silent at restart: held, blocked, alerted; captured once it answers, never refunded', async () => {
  faults.fail({ code: 'SQLITE_IOERR', op: 'capture' });
  const o = await daemon.engine.cardSwipe({ readerId: 'r-W2', uid: CARDS.alice.uid, machineId: 'W2' });
  assert.equal(o.result, 'unresolved', JSON.stringify(o));
  if (o.result !== 'unresolved') return;
  assert.equal(sim.room.control.lw485(2).stateName, 'CREDITED', 'the machine ran the credit');
  // The crash, and the machine silent while the gateway starts again.
  await daemon.stop();
  faults.clear();
  sim.room.control.setOffline(2, true);
  daemon = await startDaemon(config(), undefined, { ledgerWriteFaults: faults });
  assert.equal(daemon.ledger.getVend(o.vendId)?.state, 'credit_sent', 'not guessed: neither captured nor refunded');
  assert.ok(daemon.engine.blockedMachines().includes('W2'), 'its machine takes nothing until it answers');
  assert.deepEqual(await daemon.engine.cardSwipe({ readerId: 'r-W2', uid: CARDS.alice.uid, machineId: 'W2' }), { result: 'declined', reason: 'vend_unsettled', machineId: 'W2' });
  const alerts = daemon.ledger.readAudit(1, 100_000).filter((r) => r.kind === 'alert' && r.reason === 'vend_unsettled' && r.vendId === o.vendId);
  assert.equal(alerts.length, 1, 'the operator is told once');
  await daemon.engine.retryTick();
  assert.equal(daemon.ledger.readAudit(1, 100_000).filter((r) => r.kind === 'alert' && r.reason === 'vend_unsettled').length, 1, 'not again on every retry');
  // The machine answers again: the next retry captures the vend by the machine's own word.
  sim.room.control.setOffline(2, false);
  for (let i = 0; i < 100 && daemon.ledger.getVend(o.vendId)?.state !== 'captured'; i++) {
    await daemon.engine.retryTick();
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(daemon.ledger.getVend(o.vendId)?.state, 'captured', 'captured once the machine answers');
  assert.deepEqual(daemon.engine.blockedMachines(), []);
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
});
