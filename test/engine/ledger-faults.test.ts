// Ledger faults fail closed (issue 12, item 4), against the real daemon, simulator and ledger
// file, with the ledger's writes failed at the storage boundary (storage/write-faults.ts) as
// SQLite fails them on a full or dying SD card. Nothing is reported done that is not stored; a
// cycle the machine ran is never refunded; the machine takes no vend until its vend is settled;
// while the ledger cannot write the room declines with a reason and resumes by itself.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import { WriteFaults } from '../../storage/index.js';
import { CARDS, auditKinds, seedCards, startDaemon, startRoom, tempDir, testConfig, waitStatus, type TestRoom } from './harness.js';

let sim: TestRoom;
let daemon: Daemon;
const faults = new WriteFaults();
const tmp = tempDir();

before(async () => {
  sim = await startRoom();
  daemon = await startDaemon(testConfig({ port: sim.port, dbPath: tmp.file('ledger.db') }), undefined, { ledgerWriteFaults: faults });
  seedCards(daemon.ledger);
  for (const id of ['W1', 'W2', 'D1']) await waitStatus(daemon, id, ['idle']);
});

after(async () => {
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

const swipe = (machineId: string) => daemon.engine.cardSwipe({ readerId: `r-${machineId}`, uid: CARDS.alice.uid, machineId });
const balance = (): number => daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents ?? NaN;

function checkLedger(): void {
  assert.equal(daemon.ledger.verifyAudit().ok, true);
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
}

test('a capture the ledger could not write: not reported captured, machine blocked, no START taken, captured on retry, never refunded', async () => {
  const before = balance();
  faults.fail({ code: 'SQLITE_IOERR', op: 'capture' });
  const o = await swipe('W1');
  assert.equal(o.result, 'unresolved', JSON.stringify(o));
  if (o.result !== 'unresolved') return;
  assert.equal(daemon.ledger.getVend(o.vendId)?.state, 'credit_sent', 'the capture was not stored');
  assert.equal(sim.room.control.lw485(1).stateName, 'CREDITED', 'the machine has the credit');
  assert.deepEqual(daemon.engine.blockedMachines().sort(), ['D1', 'C1', 'C3', 'W1', 'W2'].sort(), 'the room declines every vend while the ledger cannot write');
  assert.equal(daemon.engine.health.writable, false);
  assert.deepEqual(await swipe('W2'), { result: 'declined', reason: 'ledger_unavailable', machineId: 'W2' });
  const start = await daemon.engine.commands.remote({ type: 'remote-command', roomId: 'test-room', id: 'c-start-1', machineId: 'W1', kind: 'start', issuedAtSec: 1, expiresAtSec: 2 });
  assert.equal(start.status, 'rejected');
  assert.equal(sim.room.control.lw485(1).stateName, 'CREDITED', 'no START while the vend is not settled');

  // The next retry: the probe write succeeds, vends resume, the capture is stored.
  await daemon.engine.retryTick();
  assert.equal(daemon.engine.health.writable, true);
  assert.equal(daemon.ledger.getVend(o.vendId)?.state, 'captured');
  assert.deepEqual(daemon.engine.blockedMachines(), []);
  assert.equal(balance(), before - (daemon.ledger.getVend(o.vendId)?.amountCents ?? NaN));
  assert.deepEqual(auditKinds(daemon.ledger, o.vendId).filter((k) => k !== 'alert'), ['hold', 'credit_sent', 'capture']);
  assert.ok(daemon.ledger.readAudit(1, 10_000).some((r) => r.kind === 'alert' && r.reason === 'ledger_unwritable'), 'the outage is filed once writes work');
  sim.room.control.pressStart(1);
  await waitStatus(daemon, 'W1', ['running']);
  checkLedger();
});

test('evidence not stored: the credit is never sent; a refund the ledger could not write is not reported refunded, then refunded once', async () => {
  const before = balance();
  faults.fail({ code: 'SQLITE_IOERR', op: 'markCreditSent' });
  const o = await swipe('W2');
  assert.equal(o.result, 'unresolved', JSON.stringify(o));
  if (o.result !== 'unresolved') return;
  assert.equal(sim.room.control.lw485(2).stateName, 'IDLE', 'no frame left without its evidence stored');
  const held = daemon.ledger.getVend(o.vendId)?.amountCents ?? NaN;
  assert.equal(balance(), before - held, 'still held');
  faults.fail({ code: 'SQLITE_FULL', op: 'refund' });
  await daemon.engine.retryTick(); // probe ok, the reconcile's refund is not stored
  assert.equal(daemon.ledger.getVend(o.vendId)?.state, 'held', 'not reported refunded');
  assert.deepEqual(await swipe('W2'), { result: 'declined', reason: 'ledger_unavailable', machineId: 'W2' });
  await daemon.engine.retryTick(); // probe ok, the refund is stored
  assert.equal(daemon.ledger.getVend(o.vendId)?.state, 'refunded');
  assert.equal(balance(), before);
  assert.equal(auditKinds(daemon.ledger, o.vendId).filter((k) => k === 'refund').length, 1);
  assert.deepEqual(daemon.engine.blockedMachines(), []);
  checkLedger();
});

test('a read-only ledger: every vend declined with ledger_unavailable, nothing held; vends resume by themselves', async () => {
  const before = balance();
  faults.failAll('SQLITE_READONLY');
  // The next write to fail tells the engine; a swipe is that write (its hold).
  const first = await swipe('D1');
  assert.equal(first.result, 'declined');
  assert.deepEqual(await swipe('D1'), { result: 'declined', reason: 'ledger_unavailable', machineId: 'D1' });
  await daemon.engine.retryTick();
  assert.equal(daemon.engine.health.writable, false, 'the probe fails while read-only');
  assert.equal(sim.room.control.lw485(9).stateName, 'IDLE', 'nothing was credited');
  // The operator sees it: the page's first warning and a metric.
  const status = (await (await fetch(`${daemon.web.url()}/api/status`)).json()) as { warnings: string[] };
  assert.match(status.warnings[0] ?? '', /ledger cannot write .*SQLITE_READONLY.*ledger_unavailable/);
  assert.match(await (await fetch(`${daemon.web.url()}/metrics`)).text(), /^laundry_ledger_writable 0$/m);
  faults.clear();
  await daemon.engine.retryTick();
  assert.equal(daemon.engine.health.writable, true);
  assert.match(await (await fetch(`${daemon.web.url()}/metrics`)).text(), /^laundry_ledger_writable 1$/m);
  const o = await swipe('D1');
  assert.equal(o.result, 'captured', JSON.stringify(o));
  assert.ok(balance() < before);
  checkLedger();
});
