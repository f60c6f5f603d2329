// Every record's payload is checked against its type's schema (protocols/mqtt/records.ts) by
// both cloud peers, the fleet ingest (cloud/, PostgreSQL) and the tests' reference consumer
// (simulator/cloud/, SQLite): a record that fails, or whose type is unknown (a newer gateway),
// is stored all the same with the reason and counted; the batch is acked (money is never
// dropped because a cloud's schema lags). An uplink that is not JSON or fails its payload
// schema is refused with a reason, counted and never acked. Neither peer crashes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { silentLogger } from '../../gateway/core/log.js';
import { migrate } from '../../cloud/schema.js';
import { IngestWorker } from '../../cloud/worker.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { startPostgres, type Postgres } from '../helpers/postgres.js';
import { makeConsumer, tempDir, waitFor } from '../uplink/helpers.js';
import { cloudConfig } from './helpers.js';

let broker: Broker;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

const feedback = { id: 'fb-1', at: 1_765_000_000_000, machineId: 'w1', message: 'the dryer is cold', contact: null };

/** Three records: a valid one, a capture without its fields, a type this cloud does not know. */
function batchText(gatewayId: string): string {
  const rec = (seq: number, type: string, money: boolean, payload: unknown) => ({ seq, id: `r-${seq}`, type, money, createdMs: 1_765_000_000_000 + seq, payload });
  return JSON.stringify({
    v: 1,
    gatewayId,
    batchId: '1-3',
    fromSeq: 1,
    toSeq: 3,
    records: [rec(1, 'feedback', false, feedback), rec(2, 'vend.capture', true, { vendId: 'v-1' }), rec(3, 'vend.future', true, { anything: 1 })],
    auditHead: { seq: 3, hash: 'h' },
    sentAt: 1_765_000_000_100,
  });
}

/** Publishes the bad uplinks and the batch; resolves with the ack's upToSeq. */
async function send(room: string): Promise<{ client: MqttClient; acked: Promise<number> }> {
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  const acked = new Promise<number>((resolve) => {
    client.on('message', (_t, p) => resolve((JSON.parse(p.toString()) as { upToSeq: number }).upToSeq));
  });
  await client.subscribeAsync(`laundry/v1/${room}/down/ack`, { qos: 1 });
  await client.publishAsync(`laundry/v1/${room}/up/batch`, 'not json {', { qos: 1 });
  await client.publishAsync(`laundry/v1/${room}/up/health`, JSON.stringify({ v: 1, gatewayId: room, surprise: true }), { qos: 1 });
  await client.publishAsync(`laundry/v1/${room}/up/batch`, batchText(room), { qos: 1 });
  return { client, acked };
}

test('reference consumer: records failing their schema stored with the reason and counted, bad uplinks refused with one, batch acked', async () => {
  const dir = tempDir();
  const cloud = await makeConsumer(broker.url, dir.file('cloud.db'));
  try {
    const { client, acked } = await send('room-sim');
    assert.equal(await acked, 3);
    await client.endAsync();
    assert.deepEqual(cloud.records('room-sim').map((r) => r.seq), [1, 2, 3], 'every record stored');
    assert.equal(cloud.stats.recordProblems, 2);
    assert.deepEqual(cloud.recordProblems.map((p) => [p.seq, p.reason.split(':')[0]]), [[2, 'schema'], [3, 'unknown_type']]);
    await waitFor(() => cloud.stats.invalid === 2, 'two uplinks refused');
    assert.match(cloud.refused[0]?.reason ?? '', /^batch: not JSON/);
    assert.match(cloud.refused[1]?.reason ?? '', /^health: /);
  } finally {
    await cloud.stop();
    dir.cleanup();
  }
});

test('fleet ingest: the same records stored with records.problem and counted, bad uplinks refused and counted, batch acked', async () => {
  const postgres: Postgres = await startPostgres();
  const pool = new pg.Pool({ connectionString: postgres.url, max: 2 });
  const worker = new IngestWorker(cloudConfig(broker.url, postgres.url, { mqtt: { url: broker.url, group: 'checks' } }), silentLogger());
  try {
    await migrate(pool, 4);
    await worker.start();
    const { client, acked } = await send('room-pg');
    assert.equal(await acked, 3);
    await client.endAsync();
    const rows = await pool.query<{ seq: string; problem: string | null }>("SELECT seq, problem FROM records WHERE gateway_id = 'room-pg' ORDER BY seq");
    assert.deepEqual(rows.rows.map((r) => [Number(r.seq), r.problem?.split(':')[0] ?? null]), [[1, null], [2, 'schema'], [3, 'unknown_type']]);
    assert.equal(worker.stats.recordProblems, 2);
    await waitFor(() => worker.stats.invalid === 2, 'two uplinks refused');
  } finally {
    await worker.stop();
    await pool.end();
    await postgres.close();
  }
});
