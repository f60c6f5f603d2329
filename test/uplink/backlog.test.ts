// A large backlog drains through the full path (ledger → batches → Mosquitto → consumer commits
// to SQLite → ack → ledger retires) and, for scale, the same batch payloads go through a bare
// MQTT.js QoS 1 publish loop on the same broker (test/uplink/drain-run.ts; the bench's drain
// uses the same run at 100 000). UPLINK_BACKLOG sets the count. Prints rates; asserts only on
// correctness, never on time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { drainOnce } from './drain-run.js';

const N = Number(process.env.UPLINK_BACKLOG ?? 20_000);

let broker: Broker;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

test(`a backlog of ${N} records drains in order, once; rate compared with a raw QoS 1 loop`, async (t) => {
  const r = await drainOnce(broker, { records: N, tmpfs: true, rawRounds: 1, log: (line) => process.stderr.write(`${line}\n`) });
  t.diagnostic(`ours ${r.oursPerSec.toFixed(0)} records/s, raw ${r.rawPerSec.toFixed(0)} records/s, ours/raw ${r.ratio.toFixed(3)}`);
  assert.deepEqual(r.problems, []);
  assert.equal(r.duplicates, 0);
});
