// The app's cancel of a paid credit and its refund where paths meet (issue 12, seams class b),
// against the real daemon, simulator and ledger file, ledger writes failed at the storage
// boundary: the refund is planned in the ledger before the CANCEL leaves, so a failed write
// followed by a crash still ends in exactly one refund after the restart; and a vend an operator
// already refunded in part gets the rest back on a cancel, never more than was captured.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import type { RemoteCommand } from '../../protocols/mqtt/payloads.js';
import { WriteFaults } from '../../storage/index.js';
import { CARDS, auditKinds, seedCards, startDaemon, startRoom, tempDir, testConfig, waitStatus, type TestRoom } from './harness.js';

let sim: TestRoom;
let daemon: Daemon;
const faults = new WriteFaults();
const tmp = tempDir();
let n = 0;

const start = async (): Promise<Daemon> => {
  const cfg = testConfig({ port: sim.port, dbPath: tmp.file('ledger.db') });
  cfg.pricing = { ...cfg.pricing, tiers: [...(cfg.pricing?.tiers ?? []), { id: 'gym', percentOff: 10, centsPerPoint: 5 }] };
  const d = await startDaemon(cfg, undefined, { ledgerWriteFaults: faults });
  for (const id of ['W1', 'W2', 'D1']) await waitStatus(d, id, ['idle', 'credited']);
  return d;
};

before(async () => {
  sim = await startRoom();
  daemon = await start();
  seedCards(daemon.ledger);
});

after(async () => {
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

const swipe = (machineId: string) => daemon.engine.cardSwipe({ readerId: `r-${machineId}`, uid: CARDS.alice.uid, machineId });
const balance = (): number => daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents ?? NaN;
const remote = (machineId: string, kind: RemoteCommand['kind'], more: Partial<RemoteCommand> = {}) => {
  const now = Math.floor(Date.now() / 1000);
  const cmd: RemoteCommand = { type: 'remote-command', roomId: 'test-room', id: `${kind}-${++n}`, machineId, kind, issuedAtSec: now - 1, expiresAtSec: now + 60, ...more };
  return daemon.engine.commands.remote(cmd);
};
const cancel = (machineId: string) => remote(machineId, 'cancel');

function checkLedger(): void {
  assert.equal(daemon.ledger.verifyAudit().ok, true);
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
}

test('class b: the machine ran the cancel, its refund was not stored, the gateway crashed before the retry: refunded once after the restart', async () => {
  const before = balance();
  const o = await swipe('W2');
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  // The refund's write fails (named by the ledger method of before and after the fix).
  faults.fail({ code: 'SQLITE_IOERR', op: 'refundCaptured' }).fail({ code: 'SQLITE_IOERR', op: 'settleRefundIntent' });
  const r = await cancel('W2');
  assert.equal(r.status, 'accepted', JSON.stringify(r));
  assert.equal(sim.room.control.lw485(2).stateName, 'IDLE', 'the machine cancelled');
  assert.equal(daemon.ledger.capturedRefundOf(o.vendId), null, 'not stored');
  // The crash: what this run kept in memory is gone; a new daemon opens the same file.
  await daemon.stop();
  faults.clear();
  daemon = await start();
  assert.equal(daemon.ledger.capturedRefundOf(o.vendId), o.amountCents, 'refunded after the restart');
  assert.equal(balance(), before);
  assert.deepEqual(auditKinds(daemon.ledger, o.vendId).filter((k) => k !== 'alert'), ['hold', 'credit_sent', 'capture', 'fault_refund', 'command']);
  assert.deepEqual(daemon.engine.blockedMachines(), []);
  await daemon.engine.retryTick();
  assert.equal(daemon.ledger.capturedRefundOf(o.vendId), o.amountCents, 'once');
  checkLedger();
});

test('class b: an operator refunded part of the credited vend; the cancel gives back the rest, never more than was captured', async () => {
  const before = balance();
  const o = await swipe('W1');
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  const part = daemon.engine.commands.operatorRefund(o.vendId, 100, 'partial');
  assert.equal(part.ok, true, JSON.stringify(part));
  const r = await cancel('W1');
  assert.equal(r.status, 'accepted', JSON.stringify(r));
  assert.equal(daemon.ledger.capturedRefundOf(o.vendId), o.amountCents, 'the operator part and the cancel together: the whole price');
  assert.equal(balance(), before);
  // A second operator refund would go above the capture: refused.
  assert.deepEqual(daemon.ledger.refundCaptured(o.vendId, { reason: 'operator_refund', key: 'operator_refund:2', amountCents: 1 }), { ok: false, reason: 'over_capture' });
  checkLedger();
});

test('the planned refund cannot be stored: the cancel is refused ledger_unavailable and never sent; the credit stays paid', async () => {
  const o = await swipe('W2');
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  faults.fail({ code: 'SQLITE_FULL', op: 'openRefundIntent' });
  const r = await cancel('W2');
  assert.deepEqual([r.status, r.reason], ['rejected', 'ledger_unavailable'], JSON.stringify(r));
  assert.equal(sim.room.control.lw485(2).stateName, 'CREDITED', 'the cancel was not sent');
  assert.equal(daemon.ledger.capturedRefundOf(o.vendId), null);
  await daemon.engine.retryTick();
  assert.equal(daemon.engine.health.writable, true);
  const again = await cancel('W2');
  assert.equal(again.status, 'accepted', JSON.stringify(again));
  assert.equal(daemon.ledger.capturedRefundOf(o.vendId), o.amountCents);
  checkLedger();
});

test('a captured vend paid with points, cancelled before its start: the points come back, no cents move', async () => {
  daemon.ledger.applyAccountSnapshot({ accountId: 'acct-gym', version: 1, balanceCents: 1000, points: 500, tier: 'gym', coveredSeq: 0 });
  // The door is open: the vend is captured, the START refused, the machine stays credited.
  sim.room.control.setDoor(1, true);
  const r = await remote('W1', 'start', { payment: { by: 'points', accountId: 'acct-gym' } });
  assert.deepEqual([r.status, r.reason], ['rejected', 'door_open'], JSON.stringify(r));
  sim.room.control.setDoor(1, false);
  const v = daemon.ledger.recentVends(5).find((x) => x.machineId === 'W1' && x.accountId === 'acct-gym');
  assert.ok(v);
  const spent = daemon.ledger.capturedPointsOf(v.vendId).points;
  assert.ok(spent > 0);
  assert.deepEqual([daemon.ledger.balance('acct-gym')?.balanceCents, daemon.ledger.balance('acct-gym')?.points], [1000, 500 - spent]);
  await waitStatus(daemon, 'W1', ['credited']);
  const c = await cancel('W1');
  assert.equal(c.status, 'accepted', JSON.stringify(c));
  assert.deepEqual(daemon.ledger.capturedPointsOf(v.vendId), { points: spent, refundedPoints: spent });
  assert.deepEqual([daemon.ledger.balance('acct-gym')?.balanceCents, daemon.ledger.balance('acct-gym')?.points], [1000, 500]);
  checkLedger();
});

test('a retry that runs while the CANCEL is on its way does not settle its refund as "not cancelled"', async () => {
  const o = await swipe('W2');
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  // Another machine blocked keeps the retry timer working; it fires while the cancel is sent.
  daemon.engine.blockMachine('D1');
  const p = cancel('W2');
  while (daemon.ledger.openRefundIntents().length === 0) await new Promise((r) => setImmediate(r));
  await daemon.engine.retryTick();
  const r = await p;
  assert.equal(r.status, 'accepted', JSON.stringify(r));
  assert.equal(daemon.ledger.capturedRefundOf(o.vendId), o.amountCents, 'refunded');
  checkLedger();
});
