// Store-and-forward against a real Mosquitto: outages, restarts, lost acks, duplicate and
// out-of-order acks. The cloud side is the reference consumer with per-test ack policies.
import { test, before, after } from 'node:test';
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import type { MachineState } from '../../gateway/machines/state.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { ROOM, enqueue, makeConsumer, makeUplink, storedInOrder, tempDir, testLedger, waitFor } from './helpers.js';

let broker: Broker;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

test('vends queued while the broker is down are all delivered once, in order, when it comes up', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  await broker.kill();
  const up = makeUplink(ledger, broker.url);
  await up.start();
  enqueue(ledger, 250);
  await broker.start();
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'));
  try {
    await waitFor(() => ledger.outbox.stats().depth === 0, 'outbox drained');
    assert.ok(storedInOrder(cloud, 250));
    assert.equal(cloud.stats.duplicates, 0);
    assert.equal(ledger.outbox.stats().ackedSeq, 250);
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

test('the broker killed mid-batch (before the ack): the batch is resent and every record lands once, in order', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  enqueue(ledger, 1000);
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'));
  let killed = false;
  let killing: Promise<void> | null = null;
  cloud.policy = (b) => {
    if (!killed && b.fromSeq > 300) {
      killed = true;
      killing = broker.kill().then(() => broker.start());
      return 'ignore';
    }
    return 'ack';
  };
  const up = makeUplink(ledger, broker.url, {}, { batch: { maxCount: 100 } });
  await up.start();
  try {
    await waitFor(() => killing !== null, 'the kill');
    await killing;
    await waitFor(() => ledger.outbox.stats().depth === 0, 'outbox drained');
    assert.ok(storedInOrder(cloud, 1000));
    assert.ok(up.stats().connects >= 2);
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

test('the consumer restarting before it acks: the batch is resent, the new consumer dedupes and acks', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  enqueue(ledger, 40);
  let first = await makeConsumer(broker.url, t.file('cloud.db'), { policy: () => 'ignore' });
  const up = makeUplink(ledger, broker.url, {}, { batch: { maxCount: 25 } });
  await up.start();
  try {
    await waitFor(() => first.stats.batches >= 1, 'first batch stored, not acked');
    await first.stop();
    assert.equal(ledger.outbox.stats().ackedSeq, 0, 'nothing retired without the cloud ack');
    first = await makeConsumer(broker.url, t.file('cloud.db'));
    await waitFor(() => ledger.outbox.stats().depth === 0, 'outbox drained');
    assert.ok(storedInOrder(first, 40));
    assert.ok(first.stats.duplicates >= 25, 'the resent batch was recognised as already stored');
    assert.ok(up.stats().resends >= 1);
  } finally {
    await up.stop();
    await first.stop();
    ledger.close();
    t.cleanup();
  }
});

test('duplicate, old and out-of-order acks are harmless; only an ack covering the batch in flight moves on', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  enqueue(ledger, 30);
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'), { policy: () => 'ignore' });
  // One batch in flight, so "the batch in flight" is one; the window's own test is in window.test.ts.
  const up = makeUplink(ledger, broker.url, {}, { batch: { maxCount: 10, ackTimeoutMs: 200, window: 1 } });
  const ack = (upToSeq: number, batchId?: string): void => cloud.sendAck(ROOM, { v: 1, gatewayId: ROOM, upToSeq, batchId });
  const inFlight = (): string | null => up.stats().inFlight?.batchId ?? null;
  await up.start();
  try {
    await waitFor(() => inFlight() === '1-10', 'batch 1-10 in flight');
    ack(5, 'old-partial');
    await waitFor(() => ledger.outbox.stats().ackedSeq === 5, 'partial ack applied');
    // A partial ack ends the batch; the rest goes again as the next one.
    await waitFor(() => inFlight() === '6-15', 'batch 6-15 in flight');
    ack(15, '6-15');
    ack(15, '6-15');
    ack(3, 'stale');
    await waitFor(() => inFlight() === '16-25', 'batch 16-25 in flight');
    ack(10, 'late duplicate');
    ack(15, 'late duplicate');
    // Resends of 16-25 keep going (ack timeout 200 ms) and the stale acks do not move it on.
    await waitFor(() => up.stats().resends >= 3, 'resends of 16-25');
    assert.equal(inFlight(), '16-25');
    assert.equal(ledger.outbox.stats().ackedSeq, 15);
    ack(30, 'from the future');
    await waitFor(() => ledger.outbox.stats().depth === 0 && inFlight() === null, 'all retired');
    assert.equal(ledger.outbox.stats().ackedSeq, 30);
    // The cloud claimed 26-30 too, so they were retired unsent: the ack is the cloud's word.
    assert.ok(storedInOrder(cloud, 25));
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

test('a flapping link: every record still lands exactly once, in order', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'));
  const up = makeUplink(ledger, broker.url, {}, { batch: { maxCount: 50 } });
  await up.start();
  try {
    let n = 0;
    for (let flap = 0; flap < 6; flap++) {
      enqueue(ledger, 100, n);
      n += 100;
      await waitFor(() => ledger.outbox.stats().ackedSeq > 0 || flap > 0, 'some progress');
      await broker.kill();
      // Seen gone before the broker is back: on a slow machine (qemu) a restart quicker than the
      // client's close event is no flap at all, and the test would count one reconnect for two.
      await waitFor(() => !up.stats().connected, 'disconnect noticed');
      enqueue(ledger, 20, n);
      n += 20;
      await broker.start();
      await waitFor(() => up.stats().connected, 'reconnected');
    }
    await waitFor(() => ledger.outbox.stats().depth === 0, 'outbox drained');
    assert.ok(storedInOrder(cloud, n));
    assert.ok(up.stats().connects >= 7);
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

test('a record the cloud rejects as invalid is dead-lettered with an alert; the rest flows', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  enqueue(ledger, 20);
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'), {
    policy: (b) => (b.fromSeq <= 7 && b.toSeq >= 7 ? { reject: [{ seq: 7, reason: 'payload fails cloud validation' }] } : 'ack'),
  });
  const up = makeUplink(ledger, broker.url);
  await up.start();
  try {
    await waitFor(() => ledger.outbox.stats().depth === 0 && cloud.records(ROOM).some((r) => r.type === 'alert'), 'drained with the alert delivered');
    const dead = ledger.outbox.deadLetters(10);
    assert.deepEqual(dead.map((d) => d.seq), [7]);
    assert.equal(dead[0]?.reason, 'payload fails cloud validation');
    const alert = cloud.records(ROOM).find((r) => r.type === 'alert');
    assert.deepEqual((alert?.payload as { seqs: number[] }).seqs, [7]);
    assert.equal(ledger.outbox.stats().deadLetters, 1);
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

test('status is retained online on connect and offline on stop; health and machine snapshots are published', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'));
  const hub: { listener: ((s: MachineState) => void) | null } = { listener: null };
  const up = makeUplink(ledger, broker.url, {
    subscribeStates: (l) => {
      hub.listener = l;
      return () => (hub.listener = null);
    },
    busStats: () => ({ bus1: { portUp: true, queueLength: 0 } }),
  });
  await up.start();
  try {
    await waitFor(() => cloud.received.status.some((s) => s.payload.state === 'online'), 'online status');
    hub.listener?.({ machineId: 'W1', kind: 'washer', status: 'running', program: 2, selectedProgram: 2, remainingSec: 1800, door: { closed: true, locked: true }, faultCode: null, creditCents: 0, sensors: { loadWeightGrams: null, waterHardnessDh: null }, confirm: { lastSeq: 3 }, observedAt: Date.now() });
    await waitFor(() => cloud.received.state.some((s) => s.machineId === 'W1' && s.payload.status === 'running'), 'W1 snapshot');
    await waitFor(() => cloud.received.health.length >= 1, 'health');
    const h = cloud.received.health[0]?.payload;
    assert.deepEqual(h?.bus, { bus1: { portUp: true, queueLength: 0 } });
    assert.equal(typeof h?.outbox.depth, 'number');
    await up.stop();
    await waitFor(() => cloud.received.status.some((s) => s.payload.state === 'offline'), 'offline status');
    // Retained: a late subscriber sees the last state of W1 and the gateway's offline status.
    const late = await makeConsumer(broker.url, t.file('late.db'));
    await waitFor(() => late.received.state.some((s) => s.retained && s.machineId === 'W1') && late.received.status.some((s) => s.retained && s.payload.state === 'offline'), 'retained messages');
    await late.stop();
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

test('a gateway process killed outright: the broker publishes its retained last will, offline', async () => {
  const t = tempDir();
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/uplink/child-uplink.ts', broker.url, t.file('ledger.db')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('connected'), 'child connected');
    // Live messages only: an earlier test left a retained status on the same topic.
    await waitFor(() => cloud.received.status.some((s) => !s.retained && s.payload.state === 'online'), 'online');
    child.kill('SIGKILL');
    await waitFor(() => cloud.received.status.some((s) => !s.retained && s.payload.state === 'offline'), 'the will');
    const will = cloud.received.status.find((s) => !s.retained && s.payload.state === 'offline')?.payload;
    assert.deepEqual(will, { v: 1, gatewayId: ROOM, state: 'offline' });
  } finally {
    child.kill('SIGKILL');
    await cloud.stop();
    t.cleanup();
  }
});

test('real vends made offline reach the cloud with their audit records; acks clear the unsynced exposure', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  await broker.kill();
  const up = makeUplink(ledger, broker.url);
  await up.start();
  ledger.applyTopUp({ cloudId: 'seed', accountId: 'acc-1', amountCents: 2000, accountVersion: 1 });
  for (let i = 0; i < 3; i++) {
    const h = ledger.hold({ method: 'card', funding: 'account', machineId: 'W1', program: 2, amountCents: 350, accountId: 'acc-1', cardUid: '04A2B9C1D25E80', ruleSetVersion: 'rs-1', ruleId: 'w' });
    assert.ok(h.ok);
    assert.ok(ledger.markCreditSent(h.vendId, { profile: 'lw485', unit: 1, seq: i + 1, code: 1 }).ok);
    assert.ok(ledger.capture(h.vendId).ok);
  }
  assert.equal(ledger.unsyncedExposure('acc-1').accountCents, 1050);
  await broker.start();
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'));
  try {
    await waitFor(() => ledger.outbox.stats().depth === 0, 'drained');
    const recs = cloud.records(ROOM);
    assert.deepEqual(recs.map((r) => r.seq), recs.map((_, i) => i + 1));
    const money = recs.filter((r) => r.money);
    assert.ok(money.length >= 7, 'the top-up and each hold and capture');
    for (const r of money) assert.equal(typeof (r.payload as { audit?: { hash?: unknown } }).audit?.hash, 'string');
    assert.ok(!JSON.stringify(recs).includes('04A2B9C1D25E80'), 'no full card UID upstream');
    assert.equal(ledger.unsyncedExposure('acc-1').accountCents, 0);
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});
