// The worker's own CPU per record apart from MQTT and PostgreSQL: real gateway batches (the
// ledger's outbox after a room's mix, as the uplink sends them) read by readUplink and turned
// into their COPY text (built at receipt, cloud/rows.ts), as a worker does in a burst; `rounds` rounds, the
// fastest and median printed. What the fleet's "workers µs/record" is made of, without the rig.
//   node --import tsx test/fleet/worker-bench.ts [--gateways 1000] [--actions 20] [--per-tx 64] [--rounds 7]
import { loadavg } from 'node:os';
import type { IngestBatch } from '../../cloud/store.js';
import { readUplink } from '../../cloud/uplinks.js';
import { gatewayMessages } from './store-bench.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
}

/** What copyRecords sends for a transaction's group: each batch's COPY text, built at receipt. */
function copyBytes(group: readonly IngestBatch[]): number {
  return group.reduce((n, b) => n + b.rows.copy.length, 0);
}

function main(): void {
  const gateways = arg('gateways', 1000);
  const actions = arg('actions', 20);
  const perTx = arg('per-tx', 64);
  const rounds = arg('rounds', 7);
  const messages = gatewayMessages(gateways, actions);
  let records = 0;
  const runOnce = (): number => {
    const c0 = process.cpuUsage();
    let group: IngestBatch[] = [];
    let n = 0;
    let bytes = 0;
    for (const m of messages) {
      const u = readUplink(m.topic, m.payload, 'laundry/v1');
      if (u.kind !== 'batch') throw new Error(`not a batch: ${u.kind}`);
      n += u.batch.rows.seq.length;
      group.push(u.batch);
      if (group.length === perTx) {
        bytes += copyBytes(group);
        group = [];
      }
    }
    bytes += copyBytes(group);
    const c = process.cpuUsage(c0);
    records = n;
    if (bytes === 0) throw new Error('no COPY text');
    return (c.user + c.system) / n;
  };
  const us: number[] = [];
  for (let r = 0; r < rounds; r++) us.push(runOnce());
  us.sort((a, b) => a - b);
  console.log(`${records} records in ${messages.length} batches (${(records / messages.length).toFixed(1)} per batch): readUplink + COPY text ${us[0]?.toFixed(1)} µs/record fastest, ${us[Math.floor(us.length / 2)]?.toFixed(1)} median of ${rounds}; load ${loadavg()[0]?.toFixed(1)}`);
}

main();
