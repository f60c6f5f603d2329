// One ingest worker (real Mosquitto, real PostgreSQL) at the seams of its cuts: uplinks no gateway
// of ours sends but a broken or hostile one can (a payload nested too deep to serialize again, a
// batch whose records hold text PostgreSQL refuses) beside a good batch: the worker stays up,
// refuses the first with its reason (unacked: nothing lost), stores the others and acks them. And
// PostgreSQL restarted between two batches of a gateway the worker knows (its gateways INSERT
// left out): the second is stored and acked once the server is back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import pg from 'pg';
import { silentLogger } from '../../gateway/core/log.js';
import { IngestWorker } from '../../cloud/worker.js';
import type { Broker } from '../helpers/mosquitto.js';
import type { Postgres } from '../helpers/postgres.js';
import { waitFor } from '../uplink/helpers.js';
import { cloudConfig, startCloudDeps, stopCloudDeps, summary } from './helpers.js';

let broker: Broker;
let postgres: Postgres;
let pool: pg.Pool;
before(async () => {
  ({ broker, postgres, pool } = await startCloudDeps(2));
  // The test's own pool: its idle connections end with the restart (the worker's pool handles its own).
  pool.on('error', () => undefined);
});
after(() => stopCloudDeps({ broker, postgres, pool }));

function batchText(gatewayId: string, payloadJson: string, first = 1): string {
  return `{"v":1,"gatewayId":"${gatewayId}","batchId":"${first}-${first + 1}","fromSeq":${first},"toSeq":${first + 1},"afterSeq":${first - 1},"records":[{"seq":${first},"id":"a","type":"machine_state","money":false,"createdMs":1,"payload":{}},{"seq":${first + 1},"id":"b","type":"machine_state","money":false,"createdMs":1,"payload":${payloadJson}}],"auditHead":{"seq":0,"hash":""},"sentAt":1}`;
}

test('worker: a payload nested too deep is refused with its reason and the worker stays up; records with U+0000 are stored; the good batch after them is stored and acked', async () => {
  const worker = new IngestWorker(cloudConfig(broker.url, postgres.url), silentLogger());
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  const acks: string[] = [];
  try {
    await worker.start();
    await client.subscribeAsync('laundry/v1/+/down/ack', { qos: 1 });
    client.on('message', (topic) => acks.push(topic.split('/')[2] ?? ''));
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    await client.publishAsync('laundry/v1/room-deep/up/batch', batchText('deep-1', deep), { qos: 1 });
    await client.publishAsync('laundry/v1/room-nul/up/batch', batchText('nul-1', '{"t":"a\\u0000b"}'), { qos: 1 });
    await client.publishAsync('laundry/v1/room-good/up/batch', batchText('good-1', '{"t":"ok"}'), { qos: 1 });
    await waitFor(() => acks.includes('room-good') && acks.includes('room-nul'), 'acks of the storable batches');
    assert.equal(worker.stats.invalid, 1, 'the deep batch refused, once');
    assert.equal(acks.includes('room-deep'), false, 'never acked: the gateway keeps it');
    assert.deepEqual(await summary(pool, 'good-1'), { count: 2, distinct: 2, minSeq: 1, maxSeq: 2, problems: 2, storedSeq: 2 });
    assert.equal((await summary(pool, 'nul-1')).storedSeq, 2);
    assert.equal((await summary(pool, 'deep-1')).count, 0);
  } finally {
    await client.endAsync();
    await worker.stop();
  }
});

test('worker: PostgreSQL restarted between two batches of a gateway the worker knows: the second is retried, stored and acked once the server is back', async () => {
  const worker = new IngestWorker(cloudConfig(broker.url, postgres.url), silentLogger());
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  const acked = new Map<string, number>();
  try {
    await worker.start();
    await client.subscribeAsync('laundry/v1/+/down/ack', { qos: 1 });
    client.on('message', (topic, msg) => acked.set(topic.split('/')[2] ?? '', (JSON.parse(msg.toString()) as { upToSeq: number }).upToSeq));
    await client.publishAsync('laundry/v1/room-known/up/batch', batchText('known-w', '{}', 1), { qos: 1 });
    await waitFor(() => acked.get('room-known') === 2, 'first batch acked: the gateway known');
    await postgres.stop();
    await client.publishAsync('laundry/v1/room-known/up/batch', batchText('known-w', '{}', 3), { qos: 1 });
    await waitFor(() => worker.stats.txFailures >= 1, 'a failed transaction while the server is down');
    await postgres.start();
    await waitFor(() => acked.get('room-known') === 4, 'second batch acked after the restart');
    assert.equal(worker.stats.dropped, 0);
    assert.deepEqual(await summary(pool, 'known-w'), { count: 4, distinct: 4, minSeq: 1, maxSeq: 4, problems: 4, storedSeq: 4 });
  } finally {
    await client.endAsync();
    await worker.stop();
  }
});
