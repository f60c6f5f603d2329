// Seams of the delayed cycle end (CYCLE_END_EVENT_DELAY_MS in gateway/daemon.ts,
// storage/events-along.ts): a cycle's end status waits up to 15 minutes in memory for a commit to
// ride on. Within those minutes things happen on the same machine: the door opens (idle, another
// cycle end), a fault, the operator clears it, a new vend, another cycle ends, a clean stop. The
// outbox's machine_state records of that machine must come in the order the poller saw them, none
// lost by a clean stop, and the live snapshot (up/state on a real Mosquitto) must not wait for
// them. Real daemon, simulator (600x time: a cycle in seconds) and ledger file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import type { Daemon } from '../../gateway/daemon.js';
import { writeFileSync } from 'node:fs';
import { slow } from '../helpers/slowdown.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { childMqttConfig } from '../torture/lib-room.js';
import { killLeftovers, readLedger, runGateway } from './run-gateway.js';
import { CARDS, outboxRecords, qrKey, seedCards, startDaemon, startRoom, tempDir, testConfig, waitFor, waitStatus, type TestRoom } from '../engine/harness.js';

let sim: TestRoom;
let broker: Broker;
let daemon: Daemon;
let client: mqtt.MqttClient;
const tmp = tempDir('seams-cycle-end-');
const dbPath = tmp.file('ledger.db');

/** What the poller reported for W1 (a status or fault change), in order: what the outbox must hold. */
const seen: string[] = [];
/** W1's snapshots as they arrived on up/state, with when. */
const live: { status: string; at: number }[] = [];

const label = (s: { status: string; faultCode?: number | null }): string => (s.faultCode ? `${s.status}:${s.faultCode}` : s.status);

before(async () => {
  sim = await startRoom({ timeScale: 600 });
  broker = await startMosquitto();
  // The uplink's connection to a broker nobody answers batches on: the outbox keeps every record.
  daemon = await startDaemon({ ...testConfig({ port: sim.port, dbPath }), mqtt: childMqttConfig(broker.url, qrKey().publicKeyB64) });
  seedCards(daemon.ledger, { alice: 10_000 });
  await waitStatus(daemon, 'W1', ['idle']);
  // The status W1 was first seen in (a record of its own, waiting or written), then every change.
  const first = daemon.machines.state('W1');
  if (first) seen.push(label(first));
  daemon.machines.onState((e) => {
    if (e.state.machineId === 'W1' && (e.changed.includes('status') || e.changed.includes('fault'))) seen.push(label(e.state));
  });
  client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  client.on('message', (topic, payload) => {
    if (!topic.endsWith('/up/state/W1')) return;
    const p = JSON.parse(payload.toString('utf8')) as { status?: string };
    live.push({ status: p.status ?? '?', at: performance.now() });
  });
  await client.subscribeAsync('#');
});

after(async () => {
  killLeftovers();
  await client.endAsync();
  await daemon.stop().catch(() => undefined);
  await broker.close();
  await sim.close();
  tmp.cleanup();
});

/** W1's machine_state records in the outbox, in its order. */
function stored(records: { type: string; payload: Record<string, unknown> }[]): string[] {
  return records.filter((r) => r.type === 'machine_state' && r.payload.machineId === 'W1').map((r) => label(r.payload as { status: string; faultCode: number | null }));
}

async function cycle(): Promise<void> {
  const o = await daemon.engine.cardSwipe({ readerId: 'r-W1', uid: CARDS.alice.uid, machineId: 'W1' });
  assert.equal(o.result, 'captured', JSON.stringify(o));
  sim.room.control.pressStart(1);
  await waitStatus(daemon, 'W1', ['done'], 60_000);
}

test('a cycle end waiting for a commit, then door, fault, clear, a new vend, another cycle end, a clean stop: W1\'s records in the order seen, the live snapshot at once', async () => {
  await cycle();
  const doneAt = performance.now();
  await waitFor(() => live.some((l) => l.status === 'done' && l.at >= doneAt - 1000), 'the live snapshot of the cycle end');
  const liveMs = (live.find((l) => l.status === 'done')?.at ?? NaN) - doneAt;
  assert.notEqual(stored(outboxRecords(daemon.ledger)).at(-1), 'done', 'the cycle end waits in memory (nothing else committed)');

  // The door: another cycle end, waiting too. Then a fault on the idle machine: it goes within 2 s, with what waits before it.
  sim.room.control.setDoor(1, true);
  sim.room.control.setDoor(1, false);
  await waitStatus(daemon, 'W1', ['idle']);
  sim.room.control.injectFault(1, 2);
  await waitStatus(daemon, 'W1', ['fault']);
  await waitFor(() => stored(outboxRecords(daemon.ledger)).at(-1) === 'fault:2', 'the fault record (2 s)', 10_000);
  assert.deepEqual(stored(outboxRecords(daemon.ledger)), seen, 'done and idle written before the fault, in the order seen');

  sim.room.control.resolveFaultCondition(1);
  const cleared = await daemon.engine.commands.operator('W1', 'clear-fault');
  assert.equal(cleared.status, 'accepted', JSON.stringify(cleared));
  await waitStatus(daemon, 'W1', ['idle']);

  // A new vend on W1 while the clear's idle may still wait: its hold's commit carries it first.
  await cycle();
  const records = outboxRecords(daemon.ledger);
  const holdAt = records.findLastIndex((r) => r.type === 'vend.hold');
  const beforeHold = stored(records.slice(0, holdAt));
  assert.equal(beforeHold.at(-1), 'idle', 'the idle after the clear is stored before the vend that follows it');

  // A clean stop writes what waits (the second cycle's end).
  await daemon.stop();
  const all = readLedger(dbPath, (l) => outboxRecords(l));
  const at = all.filter((r) => r.type === 'machine_state' && r.payload.machineId === 'W1').map((r) => Number(r.payload.at));
  assert.deepEqual(stored(all), seen, 'every status W1 showed, in order, none lost by the clean stop');
  assert.equal(stored(all).at(-1), 'done');
  assert.deepEqual(at, [...at].sort((a, b) => a - b), 'observation times in order');
  console.log(`  W1 showed ${seen.join(' -> ')}; up/state carried the cycle end ${Math.round(liveMs)} ms from when the test saw the poller's 'done' (its 20 ms check; negative: before it)`);
});

test('a crash loses the cycle end that waited (the documented trade): the restarted gateway stores the status W2 shows, after what was stored, and a clean stop writes it', async () => {
  // Its own room at 200x (a 30-minute wash lasts 9 s): the gateway child sees the cycle start
  // and, well after its 2 s flush of 'running', its end.
  const room = await startRoom({ timeScale: 200 });
  const db2 = tmp.file('crash.db');
  const configPath = tmp.file('crash-config.json');
  const stored2 = (): string[] => readLedger(db2, (l) => outboxRecords(l)).filter((r) => r.type === 'machine_state' && r.payload.machineId === 'W2').map((r) => label(r.payload as { status: string; faultCode: number | null }));
  try {
    // A paid credit on W2, stored by a clean stop.
    daemon = await startDaemon(testConfig({ port: room.port, dbPath: db2 }));
    seedCards(daemon.ledger, { alice: 10_000 });
    await waitStatus(daemon, 'W2', ['idle']);
    assert.equal((await daemon.engine.cardSwipe({ readerId: 'r-W2', uid: CARDS.alice.uid, machineId: 'W2' })).result, 'captured');
    await daemon.stop();
    writeFileSync(configPath, JSON.stringify({ ...testConfig({ port: room.port, dbPath: db2 }), control: { socketPath: tmp.file('crash.sock') } }));

    // The gateway runs while the cycle starts and ends, and is killed with the end still waiting in its memory.
    const first = runGateway(configPath);
    await waitFor(() => /"msg":"gateway started"/.test(first.log()), `the gateway to start:\n${first.log().slice(-2000)}`, slow(60_000));
    room.room.control.pressStart(2);
    // (The ledger is read only between runs: one writer, the gateway. Its 'running' is written within 2 s, its 'done' 9 s later.)
    await waitFor(() => /"machineId":"W2","status":"done"/.test(first.log()), `its poller to see W2 done:\n${first.log().slice(-2000)}`, slow(60_000));
    first.child.kill('SIGKILL');
    await first.exited;
    assert.equal(stored2().at(-1), 'running', 'the waiting cycle end died with the process (status history, no money)');

    // The restart stores what W2 shows now; its clean stop writes it.
    const second = runGateway(configPath);
    await waitFor(() => /"msg":"gateway started"/.test(second.log()), `the gateway to start again:\n${second.log().slice(-2000)}`, slow(60_000));
    second.child.kill('SIGTERM');
    assert.deepEqual(await second.exited, { code: 0, signal: null });
    const after = stored2();
    assert.equal(after.at(-1), 'done', `W2's records: ${after.join(' -> ')}`);
    assert.equal(after.indexOf('done'), after.lastIndexOf('running') + 1, 'the cycle end after its run');
    readLedger(db2, (l) => {
      assert.equal(l.verifyAudit().ok, true);
      assert.deepEqual(l.selfCheck().problems, []);
    });
  } finally {
    await room.close();
  }
});
