// The fleet harness, quick: twenty gateways (real ledgers, real uplinks) in one host
// process, two Mosquitto brokers bridged both ways, an ingest worker process on each, a
// throwaway PostgreSQL; then chaos while the rooms keep vending: a worker SIGKILLed and
// restarted, PostgreSQL crashed and restarted, one broker down, every gateway reconnecting at
// once. At the end every record is in PostgreSQL exactly once per (gateway, seq), gap-free,
// every payload valid against its schema, and the money booked equals the money the rooms took.
// `npm run fleet` runs the same at 1 000 gateways with the figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FleetRig } from './rig.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('fleet (quick): chaos while 20 rooms vend; every record stored once, in seq order, money equal', async () => {
  const rig = await FleetRig.start({
    gateways: 20,
    hosts: 1,
    workers: [1, 1],
    partitions: 4,
    poolSize: 3,
    mqtt: {
      batch: { maxWaitMs: 50, pollMs: 500, ackTimeoutMs: 1000, ackTimeoutMaxMs: 3000 },
      reconnect: { minMs: 100, maxMs: 1000, stableMs: 1000 },
      healthIntervalSec: 5,
      connectTimeoutMs: 3000,
    },
  });
  try {
    await rig.startGateways();
    await rig.waitConnected(30_000);
    await rig.rate(3, 'steady');
    await sleep(2000);
    const [w0] = rig.workers;
    assert.ok(w0);
    await w0.kill();
    await sleep(1000);
    w0.start();
    await w0.ready();
    await rig.postgres.crash();
    await sleep(1500);
    await rig.postgres.start();
    const [a] = rig.brokers;
    assert.ok(a);
    await a.kill();
    await sleep(4000);
    await a.start();
    await rig.reconnectAll();
    await sleep(1500);
    await rig.rate(0, 'after');
    await rig.waitDrained(90_000);
    const problems = await rig.verify();
    assert.deepEqual(problems, []);
    const s = await rig.stats();
    const total = s.gateways.reduce((n, g) => n + g.lastSeq, 0);
    assert.ok(total > 300, `a real load (${total} records)`);
    assert.equal(await rig.storedCount(), total);
  } finally {
    await rig.close();
  }
});
