// Seam of the cloud's money downlinks with a vend in flight: while a card vend is held and its
// credit is on the way (a controller that shows the result 800 ms late), a top-up arrives, and
// then the cloud's account snapshot that already includes the hold. The vend then ends captured
// (W1) or refunded by the machine (W2, faulted before it executed the credit). The balance must count every cent once:
// the hold not twice (local entry and snapshot), the refund once, the top-up once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import { CARDS, seedCards, startDaemon, startRoom, tempDir, testConfig, waitFor, waitStatus, type TestRoom } from '../engine/harness.js';

let sim: TestRoom;
let daemon: Daemon;
const tmp = tempDir('seams-top-up-');
const acct = CARDS.alice.accountId;
let snapshotVersion = 10;
let topUps = 0;

before(async () => {
  sim = await startRoom({ commandResultDelayMs: 800 });
  daemon = await startDaemon(testConfig({ port: sim.port, dbPath: tmp.file('ledger.db') }), undefined, { options: { engine: { maxReadbacks: 20 } } });
  seedCards(daemon.ledger, { alice: 2_000 });
  for (const id of ['W1', 'W2']) await waitStatus(daemon, id, ['idle']);
});

after(async () => {
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

const balance = (): number => daemon.ledger.balance(acct)?.balanceCents ?? NaN;
const lastSeq = (): number => daemon.ledger.outbox.nextBatch({ maxCount: 100_000, maxBytes: 100_000_000 }).records.at(-1)?.seq ?? 0;

/** A vend at the machine; while it is in flight a top-up, then a snapshot covering everything written so far (the hold included). */
async function vendWithDownlinks(machineId: string, meanwhile: () => void = () => undefined): Promise<{ outcome: Awaited<ReturnType<Daemon['engine']['cardSwipe']>>; before: number; topUp: number }> {
  const before = balance();
  const held = daemon.ledger.unfinishedVends().length;
  const vend = daemon.engine.cardSwipe({ readerId: `r-${machineId}`, uid: CARDS.alice.uid, machineId });
  await waitFor(() => daemon.ledger.unfinishedVends().some((v) => v.machineId === machineId && v.state === 'credit_sent'), 'the credit on its way');
  assert.equal(daemon.ledger.unfinishedVends().length, held + 1);
  meanwhile();
  const topUp = 500;
  const t = daemon.ledger.applyTopUp({ cloudId: `seam-top-up-${++topUps}`, accountId: acct, amountCents: topUp, accountVersion: snapshotVersion + 1 });
  assert.ok(t.applied, JSON.stringify(t));
  // The cloud's view: what it had, with the hold (and the top-up) it has now seen.
  const cloudBalance = balance();
  const s = daemon.ledger.applyAccountSnapshot({ accountId: acct, version: ++snapshotVersion + 1, balanceCents: cloudBalance, points: 0, tier: 'standard', coveredSeq: lastSeq() });
  snapshotVersion++;
  assert.ok(s.applied, JSON.stringify(s));
  assert.equal(balance(), cloudBalance, 'the snapshot changed nothing the gateway already counted');
  assert.ok(daemon.ledger.unfinishedVends().some((v) => v.machineId === machineId), 'all of this while the vend was in flight');
  return { outcome: await vend, before, topUp };
}

test('a top-up and a snapshot that includes the hold, both during the vend: captured counts the price once, refunded gives it back once', async () => {
  const a = await vendWithDownlinks('W1');
  assert.equal(a.outcome.result, 'captured', JSON.stringify(a.outcome));
  if (a.outcome.result !== 'captured') return;
  assert.equal(balance(), a.before + a.topUp - a.outcome.amountCents);

  // W2 faults while its credit waits in the controller: the credit is rejected, the vend refunded.
  const b = await vendWithDownlinks('W2', () => sim.room.control.injectFault(2, 1));
  assert.equal(b.outcome.result, 'refunded', JSON.stringify(b.outcome));
  assert.equal(balance(), b.before + b.topUp, 'the price back once, the top-up kept');
  assert.equal(daemon.ledger.verifyAudit().ok, true);
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
});
