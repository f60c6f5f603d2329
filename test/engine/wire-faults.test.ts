// The wire misbehaving at the worst moment, the credit command itself: its reply lost or
// corrupted, the machine gone from the bus mid-vend. Faults are armed by the simulator's own
// controls at the instant the command arrives (a per-test hook on the simulator, no mocks).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import type { ReplyPlan } from '../../simulator/index.js';
import { CARDS, auditKinds, seedCards, startDaemon, startRoom, tempDir, testConfig, waitFor, waitStatus, type TestRoom } from './harness.js';

let sim: TestRoom;
let daemon: Daemon;
const tmp = tempDir();
/** Called with each command write the simulator receives; says what the wire does to it. */
let onWrite: ((unit: number, fc: number, address: number) => 'serve' | 'drop-after' | 'offline-before' | 'offline-after') | null = null;
const writes: Array<{ unit: number; fc: number; address: number; seq: number | null }> = [];

before(async () => {
  sim = await startRoom();
  const serve = sim.room.serve.bind(sim.room);
  sim.room.serve = (unit: number, pdu: Buffer): ReplyPlan | null => {
    const fc = pdu[0] ?? 0;
    if (fc !== 6 && fc !== 16) return serve(unit, pdu);
    const address = pdu.readUInt16BE(1);
    // fc16 to the LW-485 command block: the seq is the first register written.
    writes.push({ unit, fc, address, seq: fc === 16 && address === 256 ? pdu.readUInt16BE(6) : null });
    const what = onWrite?.(unit, fc, address) ?? 'serve';
    if (what === 'offline-before') sim.room.control.setOffline(unit, true);
    const plan = serve(unit, pdu);
    if (what === 'offline-after') sim.room.control.setOffline(unit, true);
    return what === 'drop-after' || what === 'offline-after' ? null : plan;
  };
  daemon = await startDaemon(testConfig({ port: sim.port, dbPath: tmp.file('ledger.db') }));
  seedCards(daemon.ledger, { alice: 100_000 });
  for (const id of ['W1', 'W2', 'D1', 'C1']) await waitStatus(daemon, id, ['idle']);
});

after(async () => {
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

const swipe = (machineId: string) => daemon.engine.cardSwipe({ readerId: `r-${machineId}`, uid: CARDS.alice.uid, machineId });

/** Arms one fault for the first command write to `unit`, then disarms. */
function once(unit: number, what: 'drop-after' | 'offline-before' | 'offline-after', corrupt = false): void {
  onWrite = (u) => {
    if (u !== unit) return 'serve';
    onWrite = null;
    if (corrupt) {
      sim.room.control.corruptReplies(unit, 1);
      return 'serve';
    }
    return what;
  };
}

test('LW-485: the credit reply is lost; the same seq is repeated, executes once, captured', async () => {
  writes.length = 0;
  once(1, 'drop-after');
  const o = await swipe('W1');
  assert.equal(o.result, 'captured', JSON.stringify(o));
  const cmds = writes.filter((w) => w.unit === 1 && w.seq !== null);
  assert.ok(cmds.length >= 2, `the command was repeated (${cmds.length} writes)`);
  assert.equal(new Set(cmds.map((w) => w.seq)).size, 1, 'every repeat carried the same seq');
  const w1 = sim.room.control.lw485(1);
  assert.equal(w1.stateName, 'CREDITED');
  assert.equal(w1.lastSeq, cmds[0]?.seq);
  assert.equal(w1.creditCents, 250);
});

test('LW-485: the credit reply is corrupted; captured once, as for a lost one', async () => {
  writes.length = 0;
  once(9, 'drop-after', true);
  const o = await swipe('D1');
  assert.equal(o.result, 'captured', JSON.stringify(o));
  const cmds = writes.filter((w) => w.unit === 9 && w.seq !== null);
  assert.equal(new Set(cmds.map((w) => w.seq)).size, 1);
  assert.equal(sim.room.control.lw485(9).stateName, 'CREDITED');
});

test('RIO-8: the pulse-train write reply is lost; never written twice, the coins counted once, captured', async () => {
  writes.length = 0;
  const before = sim.room.control.rio8(20).channels[0]?.pulseCounter ?? 0;
  once(20, 'drop-after');
  const o = await swipe('C1');
  assert.equal(o.result, 'captured', JSON.stringify(o));
  assert.equal(writes.filter((w) => w.unit === 20 && w.address === 16).length, 1, 'one pulse-train write');
  await waitFor(() => (sim.room.control.rio8(20).channels[0]?.pulsesPending ?? 1) === 0, 'the train to end');
  assert.equal(sim.room.control.rio8(20).channels[0]?.pulseCounter, before + 7);
  assert.equal(sim.room.control.rio8(20).channels[0]?.machine?.coins, 7);
});

test('unit gone mid-vend after the credit executed: unresolved, machine blocked, back on the bus: captured by its answer', async () => {
  sim.room.control.pressStart(1);
  await waitStatus(daemon, 'W1', ['running']);
  once(2, 'offline-after');
  const o = await swipe('W2');
  assert.equal(o.result, 'unresolved', JSON.stringify(o));
  if (o.result !== 'unresolved') return;
  assert.equal(daemon.ledger.getVend(o.vendId)?.state, 'credit_sent');
  assert.deepEqual(daemon.engine.blockedMachines(), ['W2']);
  assert.equal(sim.room.control.lw485(2).stateName, 'CREDITED', 'the machine has the credit');
  sim.room.control.setOffline(2, false);
  assert.deepEqual(await swipe('W2'), { result: 'declined', reason: 'vend_unsettled', machineId: 'W2' }, 'blocked until settled');
  await waitFor(() => daemon.ledger.getVend(o.vendId)?.state === 'captured', 'the periodic reconcile to capture', 20_000);
  assert.deepEqual(daemon.engine.blockedMachines(), []);
  assert.deepEqual(auditKinds(daemon.ledger, o.vendId).filter((k) => k !== 'alert'), ['hold', 'credit_sent', 'capture']);
});

test('unit gone before the credit reached it: unresolved, then refunded once the machine says it never executed', async () => {
  const bal = daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents ?? 0;
  await waitStatus(daemon, 'C3', ['idle']);
  // The RIO-8 is pulled off the bus just before the pulse-train write reaches it.
  once(20, 'offline-before');
  const o = await swipe('C3');
  assert.notEqual(o.result, 'captured', JSON.stringify(o));
  sim.room.control.setOffline(20, false);
  if (o.result === 'unresolved') {
    await waitFor(() => daemon.ledger.getVend(o.vendId)?.state === 'refunded', 'the periodic reconcile to refund', 20_000);
  } else assert.equal(o.result, 'refunded', JSON.stringify(o));
  assert.equal(daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents, bal, 'all of it came back');
  assert.equal(sim.room.control.rio8(20).channels[2]?.pulseCounter, 0, 'no coin reached the dryer');
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
  assert.equal(daemon.ledger.verifyAudit().ok, true);
});
