// The app's commands where they meet the card path (issue 12, items 1-3, paid app vends): a real
// daemon against the simulated room, its uplink on a real Mosquitto, commands signed and sent by
// the reference cloud consumer. Every remote command goes through the vend engine's claim on its
// machine and is ledgered with its money.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import type { CloudConsumer } from '../../simulator/cloud/consumer.js';
import type { RemoteCommand } from '../../protocols/mqtt/payloads.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { cloudKeys, makeConsumer, testConfig as mqttConfig } from '../uplink/helpers.js';
import { CARDS, UNITS, auditKinds, seedCards, startDaemon, startRoom, tempDir, testConfig, waitFor, waitStatus, type TestRoom } from './harness.js';

const ROOM = 'app-room';
let sim: TestRoom;
let daemon: Daemon;
let broker: Broker;
let cloud: CloudConsumer;
const tmp = tempDir();

before(async () => {
  broker = await startMosquitto();
  sim = await startRoom({ units: [...UNITS, { unit: 3, model: 'lw485-washer' }] });
  const keys = cloudKeys();
  cloud = await makeConsumer(broker.url, tmp.file('cloud.db'), { signingKey: keys.privateKey });
  const cfg = testConfig({ port: sim.port, dbPath: tmp.file('ledger.db'), roomId: ROOM });
  cfg.buses?.[0]?.units.push({ unit: 3, profile: 'lw485', machineId: 'W3', kind: 'washer' });
  cfg.pricing = { ...cfg.pricing, tiers: [...(cfg.pricing?.tiers ?? []), { id: 'gym', percentOff: 10, centsPerPoint: 5 }] };
  daemon = await startDaemon({ ...cfg, mqtt: mqttConfig(broker.url, { configPublicKey: keys.publicB64 }) });
  seedCards(daemon.ledger);
  for (const id of ['W1', 'W2', 'W3', 'D1']) await waitStatus(daemon, id, ['idle']);
  await waitFor(() => cloud.received.status.some((s) => !s.retained && s.payload.state === 'online'), 'gateway online');
});

after(async () => {
  await daemon.stop();
  await cloud.stop();
  await sim.close();
  await broker.close();
  tmp.cleanup();
});

let n = 0;
/** Sends a signed command and waits for its result from the gateway. */
async function command(c: Pick<RemoteCommand, 'machineId' | 'kind'> & Partial<Pick<RemoteCommand, 'args' | 'payment'>>): Promise<{ outcome: string; reason: string | null; detail: string | null }> {
  const id = `app-${++n}`;
  const now = Math.floor(Date.now() / 1000);
  await cloud.publishCommand(ROOM, { id, issuedAtSec: now, expiresAtSec: now + 120, ...c });
  await waitFor(() => cloud.received['command-result'].some((r) => r.payload.commandId === id), `result of ${id}`);
  const r = cloud.received['command-result'].find((x) => x.payload.commandId === id)?.payload;
  assert.ok(r);
  return { outcome: r.outcome, reason: r.reason, detail: r.detail };
}

const swipe = (machineId: string) => daemon.engine.cardSwipe({ readerId: `r-${machineId}`, uid: CARDS.alice.uid, machineId });
const alice = (): number => daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents ?? NaN;

function commandAudits(): { result: string; detail: Record<string, unknown> }[] {
  return daemon.ledger
    .readAudit(1, 100_000)
    .filter((r) => r.kind === 'command')
    .map((r) => ({ result: r.result, detail: JSON.parse(r.detail ?? '{}') as Record<string, unknown> }));
}

function checkLedger(): void {
  assert.equal(daemon.ledger.verifyAudit().ok, true);
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
}

test('item 1: swipe, then Start in the app moments later: the start waits for the vend, which is captured, not refunded', async () => {
  const before = alice();
  const vend = swipe('W1');
  // The command arrives while the vend is being credited and read back.
  const start = command({ machineId: 'W1', kind: 'start' });
  const o = await vend;
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  const r = await start;
  assert.equal(r.outcome, 'accepted', JSON.stringify(r));
  assert.equal(sim.room.control.lw485(1).stateName, 'RUNNING');
  assert.equal(daemon.ledger.getVend(o.vendId)?.state, 'captured');
  assert.deepEqual(auditKinds(daemon.ledger, o.vendId).filter((k) => k !== 'alert'), ['hold', 'credit_sent', 'capture', 'command']);
  assert.equal(alice(), before - o.amountCents, 'paid exactly once');
  checkLedger();
});

test('an unpaid start on a machine no vend of ours credited is refused with a reason; pause and resume move no money and say so', async () => {
  const r = await command({ machineId: 'W2', kind: 'start' });
  assert.deepEqual([r.outcome, r.reason], ['rejected', 'payment_required']);
  assert.equal(sim.room.control.lw485(2).stateName, 'IDLE');
  const before = alice();
  assert.equal((await command({ machineId: 'W1', kind: 'pause' })).outcome, 'accepted');
  await waitFor(() => sim.room.control.lw485(1).stateName === 'PAUSED', 'W1 paused');
  assert.equal((await command({ machineId: 'W1', kind: 'resume' })).outcome, 'accepted');
  assert.equal(alice(), before);
  const audits = commandAudits().slice(-3);
  assert.deepEqual(audits.map((a) => [a.result, a.detail.command, a.detail.money]), [
    ['refused', 'start', 'none: refused before the machine'],
    ['accepted', 'pause', 'none: pause moves no money'],
    ['accepted', 'resume', 'none: resume moves no money'],
  ]);
});

test('item 2: the app cancels a paid, credited machine: the payer gets the whole price back, exactly once', async () => {
  const before = alice();
  const o = await swipe('W2');
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  assert.equal(alice(), before - o.amountCents);
  const r = await command({ machineId: 'W2', kind: 'cancel' });
  assert.equal(r.outcome, 'accepted', JSON.stringify(r));
  assert.equal(sim.room.control.lw485(2).stateName, 'IDLE');
  assert.equal(alice(), before, 'refunded');
  assert.equal(daemon.ledger.capturedRefundOf(o.vendId), o.amountCents);
  const again = await command({ machineId: 'W2', kind: 'cancel' });
  assert.notEqual(again.outcome, 'accepted');
  assert.equal(alice(), before, 'once');
  assert.deepEqual(auditKinds(daemon.ledger, o.vendId).filter((k) => k !== 'alert'), ['hold', 'credit_sent', 'capture', 'fault_refund', 'command']);
  checkLedger();
});

test('paid app starts: from an account (held and captured like a card), prepaid online (ledgered as such, its refund a record for the cloud)', async () => {
  const before = alice();
  const byAccount = await command({ machineId: 'W2', kind: 'start', payment: { by: 'account', accountId: CARDS.alice.accountId } });
  assert.equal(byAccount.outcome, 'accepted', JSON.stringify(byAccount));
  assert.equal(sim.room.control.lw485(2).stateName, 'RUNNING');
  const v = daemon.ledger.recentVends(5).find((x) => x.machineId === 'W2' && x.method === 'remote');
  assert.ok(v);
  assert.deepEqual([v.state, v.funding, v.accountId], ['captured', 'account', CARDS.alice.accountId]);
  assert.equal(alice(), before - v.amountCents, 'the account paid, as with its card');

  // Too little taken online for the room's price: declined before any hold, with the reason.
  const short = await command({ machineId: 'W3', kind: 'start', payment: { by: 'prepaid', amountCents: 1 } });
  assert.deepEqual([short.outcome, short.reason], ['rejected', 'over_amount']);
  assert.equal(sim.room.control.lw485(3).stateName, 'IDLE');
  // Prepaid with the door open: the credit is taken but START refused: paid and credited, the
  // user may start at the machine or cancel; the cancel refunds the cloud's money as a record.
  sim.room.control.setDoor(3, true);
  const prepaid = await command({ machineId: 'W3', kind: 'start', payment: { by: 'prepaid', amountCents: 900 } });
  assert.deepEqual([prepaid.outcome, prepaid.reason], ['rejected', 'door_open'], JSON.stringify(prepaid));
  const p = daemon.ledger.recentVends(5).find((x) => x.machineId === 'W3' && x.method === 'remote');
  assert.ok(p);
  assert.deepEqual([p.state, p.funding, p.accountId], ['captured', 'token', null]);
  assert.equal(alice(), before - v.amountCents, 'no balance moved for the prepaid start');
  sim.room.control.setDoor(3, false);
  await waitStatus(daemon, 'W3', ['credited']);
  const cancel = await command({ machineId: 'W3', kind: 'cancel' });
  assert.equal(cancel.outcome, 'accepted', JSON.stringify(cancel));
  assert.equal(daemon.ledger.capturedRefundOf(p.vendId), p.amountCents);
  await waitFor(() => cloud.records(ROOM).some((r) => r.type === 'vend.fault_refund' && (r.payload as { vendId?: string; funding?: string }).vendId === p.vendId && (r.payload as { funding?: string }).funding === 'token'), 'the prepaid refund upstream');
  checkLedger();
});

test('item 7: paying with points from the app: the points are held and captured, no cents move; too few points is declined', async () => {
  const gym = (accountId: string, points: number): void => {
    daemon.ledger.applyAccountSnapshot({ accountId, version: 1, balanceCents: 1000, points, tier: 'gym', coveredSeq: 0 });
  };
  gym('acct-gym-poor', 3);
  gym('acct-gym', 500);
  await waitStatus(daemon, 'W3', ['idle']);
  const poor = await command({ machineId: 'W3', kind: 'start', payment: { by: 'points', accountId: 'acct-gym-poor' } });
  assert.deepEqual([poor.outcome, poor.reason], ['rejected', 'insufficient_funds'], JSON.stringify(poor));
  assert.equal(sim.room.control.lw485(3).stateName, 'IDLE');
  const r = await command({ machineId: 'W3', kind: 'start', payment: { by: 'points', accountId: 'acct-gym' } });
  assert.equal(r.outcome, 'accepted', JSON.stringify(r));
  const v = daemon.ledger.recentVends(5).find((x) => x.machineId === 'W3' && x.accountId === 'acct-gym');
  assert.ok(v);
  assert.deepEqual([v.state, v.funding, v.amountCents], ['captured', 'account', 0]);
  const hold = daemon.ledger.readAudit(1, 100_000).find((x) => x.kind === 'hold' && x.vendId === v.vendId);
  const detail = JSON.parse(hold?.detail ?? '{}') as { points?: number; priceCents?: number };
  assert.ok((detail.points ?? 0) > 0 && detail.points === Math.ceil((detail.priceCents ?? NaN) / 5), JSON.stringify(detail));
  const b = daemon.ledger.balance('acct-gym');
  assert.deepEqual([b?.balanceCents, b?.points], [1000, 500 - (detail.points ?? NaN)]);
  checkLedger();
});

test('item 3: add-time on a running dryer is charged to the account that paid its cycle (or to the prepaid amount), as its own priced vend', async () => {
  const o = await swipe('D1');
  assert.equal(o.result, 'captured', JSON.stringify(o));
  assert.equal((await command({ machineId: 'D1', kind: 'start' })).outcome, 'accepted', 'unpaid start of a credit our vend put there');
  await waitStatus(daemon, 'D1', ['running']);
  const remainingBefore = sim.room.control.lw485(9).remainingSec;
  const before = alice();
  const r = await command({ machineId: 'D1', kind: 'addTime', args: { minutes: 10, amountCents: 800 } });
  assert.equal(r.outcome, 'accepted', JSON.stringify(r));
  const a = daemon.ledger.recentVends(5).find((x) => x.machineId === 'D1' && x.machineKind === null);
  assert.ok(a, 'an add-time vend');
  assert.deepEqual([a.state, a.funding, a.accountId], ['captured', 'account', CARDS.alice.accountId]);
  assert.ok(a.amountCents > 0 && a.amountCents <= 800, `priced ${a.amountCents}`);
  assert.equal(alice(), before - a.amountCents, 'charged to the payer of the cycle');
  assert.ok(sim.room.control.lw485(9).remainingSec > remainingBefore + 9 * 60, 'the machine got the minutes');

  const prepaid = await command({ machineId: 'D1', kind: 'addTime', args: { minutes: 10, amountCents: 800 }, payment: { by: 'prepaid', amountCents: 800 } });
  assert.equal(prepaid.outcome, 'accepted', JSON.stringify(prepaid));
  const b = daemon.ledger.recentVends(1)[0];
  assert.deepEqual([b?.machineId, b?.state, b?.funding, b?.machineKind], ['D1', 'captured', 'token', null]);
  assert.equal(alice(), before - a.amountCents, 'the prepaid add-time moved no balance');
  // On a washer the machine refuses: refunded, nobody charged.
  const washer = await command({ machineId: 'W1', kind: 'addTime', args: { minutes: 10, amountCents: 800 }, payment: { by: 'account', accountId: CARDS.alice.accountId } });
  assert.equal(washer.outcome, 'rejected');
  assert.equal(alice(), before - a.amountCents);
  checkLedger();
});
