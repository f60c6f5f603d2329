// Start-up reconcile, staged by hand: credits sent straight through the machines' commanders with
// their evidence written to the ledger as the engine would, then the gateway "dies" before it
// records the outcome (daemon stopped) and a new one starts on the same file. Each unfinished
// vend must be settled by the machine's own answer, and nothing may be sent again.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import type { CommandEvidence } from '../../gateway/profiles/types.js';
import { CARDS, seedCards, startDaemon, startRoom, tempDir, testConfig, waitFor, waitStatus, type TestRoom } from './harness.js';

let sim: TestRoom;
let daemon: Daemon;
const tmp = tempDir();
const config = (): ReturnType<typeof testConfig> => testConfig({ port: sim.port, dbPath: tmp.file('ledger.db') });

before(async () => {
  sim = await startRoom();
  daemon = await startDaemon(config());
  seedCards(daemon.ledger, { alice: 10_000 });
  for (const id of ['W1', 'W2', 'D1', 'C1']) await waitStatus(daemon, id, ['idle']);
});

after(async () => {
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

function hold(machineId: string, amountCents: number): string {
  const h = daemon.ledger.hold({ method: 'card', funding: 'account', machineId, program: 1, amountCents, accountId: CARDS.alice.accountId, cardUid: CARDS.alice.uid, ruleSetVersion: 't', ruleId: 't' });
  assert.ok(h.ok);
  return h.ok ? h.vendId : '';
}

/** A credit as the engine sends it: hold first, evidence committed in beforeSend, then the frame. */
async function creditUnrecorded(machineId: string, amountCents: number, minutes?: number): Promise<{ vendId: string; status: string; evidence: CommandEvidence | null }> {
  const vendId = hold(machineId, amountCents);
  let evidence: CommandEvidence | null = null;
  const o = await daemon.machines.commander(machineId).credit({
    program: 1,
    amountCents,
    ...(minutes !== undefined ? { minutes } : {}),
    beforeSend: (ev) => {
      evidence = ev;
      assert.ok(daemon.ledger.markCreditSent(vendId, ev).ok);
    },
  });
  return { vendId, status: o.status, evidence };
}

test('a restart settles each unfinished vend by asking its machine, and sends nothing again', async () => {
  const accepted = await creditUnrecorded('W1', 250);
  assert.equal(accepted.status, 'accepted');
  sim.room.control.injectFault(2, 1);
  const rejected = await creditUnrecorded('W2', 250);
  assert.equal(rejected.status, 'rejected');
  const coins = await creditUnrecorded('C1', 350);
  assert.equal(coins.status, 'accepted');
  await waitFor(() => (sim.room.control.rio8(20).channels[0]?.pulsesPending ?? 1) === 0, 'the train to end');
  const neverSent = hold('D1', 300);
  const w1Seq = sim.room.control.lw485(1).lastSeq;
  const pulses = sim.room.control.rio8(20).channels[0]?.pulseCounter;
  const balance = daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents ?? 0;
  assert.equal(daemon.ledger.unfinishedVends().length, 4);

  await daemon.stop();
  daemon = await startDaemon(config());

  const state = (id: string) => daemon.ledger.getVend(id);
  assert.equal(state(accepted.vendId)?.state, 'captured', 'the machine shows our seq accepted');
  assert.equal(state(coins.vendId)?.state, 'captured', 'the counter moved by the coins');
  assert.equal(state(rejected.vendId)?.state, 'refunded');
  assert.equal(state(rejected.vendId)?.finishReason, 'machine_fault', 'the device result code gives the reason');
  assert.equal(state(neverSent)?.state, 'refunded');
  assert.equal(state(neverSent)?.finishReason, 'not_executed');
  assert.deepEqual(daemon.engine.blockedMachines(), []);
  assert.equal(daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents, balance + 250 + 300, 'the two that did not credit came back');
  assert.equal(sim.room.control.lw485(1).lastSeq, w1Seq, 'nothing was sent again');
  assert.equal(sim.room.control.lw485(1).creditCents, 250);
  assert.equal(sim.room.control.rio8(20).channels[0]?.pulseCounter, pulses);
  assert.equal(sim.room.control.lw485(9).creditCents, 0);
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
  assert.equal(daemon.ledger.verifyAudit().ok, true);
});
