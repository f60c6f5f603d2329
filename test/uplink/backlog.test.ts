// A large backlog drains through the full path (ledger → batch → Mosquitto → consumer commits
// to SQLite → ack → ledger retires) and, for scale, the same bytes go through a bare MQTT.js
// QoS 1 publish loop on the same broker. UPLINK_BACKLOG sets the count (the bench uses 100000).
// Prints rates; asserts only on correctness, never on time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { enqueue, makeConsumer, makeUplink, storedInOrder, tempDir, testLedger, waitFor } from './helpers.js';

const N = Number(process.env.UPLINK_BACKLOG ?? 20_000);

let broker: Broker;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

test(`a backlog of ${N} records drains in order, once; rate compared with a raw QoS 1 loop`, async (t) => {
  const dir = tempDir(true);
  const ledger = testLedger(dir.file('ledger.db'));
  enqueue(ledger, N);
  const payloads: string[] = [];
  const cloud = await makeConsumer(broker.url, dir.file('cloud.db'), {
    policy: (b) => {
      payloads.push(JSON.stringify(b));
      return 'ack';
    },
  });
  const up = makeUplink(ledger, broker.url, {}, { batch: { ackTimeoutMs: 5000, ackTimeoutMaxMs: 20_000 } });
  const raw = mqtt.connect(broker.url, { protocolVersion: 5, clientId: 'raw-bench' });
  try {
    const t0 = performance.now();
    await up.start();
    await waitFor(() => ledger.outbox.stats().depth === 0, 'backlog drained', 120_000);
    const oursMs = performance.now() - t0;
    assert.ok(storedInOrder(cloud, N));
    assert.equal(cloud.stats.duplicates, 0);

    await new Promise<void>((resolve) => (raw.connected ? resolve() : raw.once('connect', () => resolve())));
    const t1 = performance.now();
    for (const p of payloads) await raw.publishAsync('bench/raw', p, { qos: 1 });
    const rawMs = performance.now() - t1;

    const ours = (N / oursMs) * 1000;
    const bare = (N / rawMs) * 1000;
    const bytes = payloads.reduce((s, p) => s + p.length, 0);
    const line = `uplink drain: ${N} records in ${payloads.length} batches (${(bytes / 1e6).toFixed(1)} MB): ${ours.toFixed(0)} records/s end to end; raw QoS 1 publish of the same bytes: ${bare.toFixed(0)} records/s; raw/ours = ${(bare / ours).toFixed(2)}`;
    t.diagnostic(line);
    process.stderr.write(`${line}\n`);
  } finally {
    await raw.endAsync(true);
    await up.stop();
    await cloud.stop();
    ledger.close();
    dir.cleanup();
  }
});
