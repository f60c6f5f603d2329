// The ingest's store step against raw COPY, apart from MQTT: real gateway records (the ledger's
// outbox after a room's mix, read as a worker reads an uplink) stored by cloud/store.ts's
// ingest() with each way of writing the records, `concurrency` transactions at once of
// `perTx` batches, into empty tables; then raw COPY of the same rows (copy-baseline.ts). Each
// way runs `rounds` times, alternated, so a loaded machine's drift hits them alike.
//   node --import tsx test/fleet/store-bench.ts [--gateways 200] [--actions 120] [--per-tx 64] [--concurrency 4] [--rounds 2]
import { loadavg } from 'node:os';
import pg from 'pg';
import { migrate } from '../../cloud/schema.js';
import { ingest, type IngestBatch, type RecordWrite } from '../../cloud/store.js';
import { readUplink } from '../../cloud/uplinks.js';
import { silentLogger } from '../../gateway/core/log.js';
import { openLedger } from '../../storage/index.js';
import { startPostgres } from '../helpers/postgres.js';
import { tempDir } from '../storage/helpers.js';
import { CopyBaseline } from './copy-baseline.js';
import { postgresCpuMs } from './cpu.js';
import { RoomActivity, seededRng } from './room-activity.js';

const PARTITIONS = 16;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
}

/** Every gateway's outbox as the uplink would send it (batches of up to 100 records): each message's topic and payload. */
export function gatewayMessages(gateways: number, actions: number): { topic: string; payload: Buffer }[] {
  const t = tempDir('store-bench-', true);
  const out: { topic: string; payload: Buffer }[] = [];
  try {
    for (let g = 0; g < gateways; g++) {
      const roomId = `room-${String(g).padStart(4, '0')}`;
      const ledger = openLedger({ path: t.file(`${roomId}.db`), roomSecret: Buffer.alloc(32, 3), gatewayId: roomId, bootId: 'b', clock: { now: Date.now, monotonic: () => performance.now() }, logger: silentLogger() });
      const room = new RoomActivity(ledger, seededRng(g + 1));
      for (let i = 0; i < actions; i++) room.step();
      let after = 0;
      for (;;) {
        const b = ledger.outbox.nextBatch({ maxCount: 100, maxBytes: 128 * 1024, afterSeq: after });
        const first = b.records[0];
        const last = b.records[b.records.length - 1];
        if (first === undefined || last === undefined) break;
        const wire = { v: 1, gatewayId: roomId, batchId: `${first.seq}-${last.seq}`, fromSeq: first.seq, toSeq: last.seq, afterSeq: after, ackedSeq: 0, records: b.records.map((r) => ({ seq: r.seq, id: r.id, type: r.type, money: r.money, createdMs: r.createdMs, payload: r.payload })), auditHead: { seq: 0, hash: '' }, sentAt: Date.now() };
        out.push({ topic: `laundry/v1/${roomId}/up/batch`, payload: Buffer.from(JSON.stringify(wire)) });
        after = last.seq;
      }
      ledger.close();
    }
  } finally {
    t.cleanup();
  }
  return out;
}

/** Every gateway's outbox as batches, read by readUplink as a worker reads them. */
export function gatewayBatches(gateways: number, actions: number): IngestBatch[] {
  return gatewayMessages(gateways, actions).map((m) => {
    const u = readUplink(m.topic, m.payload, 'laundry/v1');
    if (u.kind !== 'batch') throw new Error(`batch not read: ${JSON.stringify(u).slice(0, 200)}`);
    return u.batch;
  });
}

/** Stores every batch by `write`, `concurrency` transactions at once; wall ms and PostgreSQL CPU ms. */
export async function storeAll(pool: pg.Pool, batches: readonly IngestBatch[], write: RecordWrite, perTx: number, concurrency: number, pgCpu: () => number): Promise<{ ms: number; cpuMs: number; stored: number }> {
  const groups: IngestBatch[][] = [];
  for (let i = 0; i < batches.length; i += perTx) groups.push(batches.slice(i, i + perTx));
  let next = 0;
  let stored = 0;
  const cpu0 = pgCpu();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let g = groups[next++]; g !== undefined; g = groups[next++]) {
        const r = await ingest(pool, g, 64, write);
        stored += r.stored;
      }
    }),
  );
  return { ms: performance.now() - t0, cpuMs: pgCpu() - cpu0, stored };
}

async function main(): Promise<void> {
  const gateways = arg('gateways', 200);
  const actions = arg('actions', 120);
  const perTx = arg('per-tx', 64);
  const concurrency = arg('concurrency', 4);
  const rounds = arg('rounds', 2);
  const batches = gatewayBatches(gateways, actions);
  const rows = batches.reduce((n, b) => n + b.rows.seq.length, 0);
  const bytes = batches.reduce((n, b) => n + b.rows.copy.length, 0);
  console.log(`${rows} records in ${batches.length} batches of ${gateways} gateways (${Math.round(bytes / rows)} B of COPY text each); ${perTx} batches per transaction, ${concurrency} at once`);
  const postgres = await startPostgres();
  const pool = new pg.Pool({ connectionString: postgres.url, max: concurrency + 1, idleTimeoutMillis: 0 });
  const pgCpu = (): number => postgresCpuMs(postgres.dataDir);
  try {
    await migrate(pool, PARTITIONS);
    const line = (name: string, perSec: number, cpuUsPerRow: number, copyPerSec: number): void =>
      console.log(`${name.padEnd(34)} ${String(Math.round(perSec)).padStart(7)} rows/s   PostgreSQL CPU ${cpuUsPerRow.toFixed(1).padStart(5)} µs/row   / COPY ${(perSec / copyPerSec).toFixed(2)}   load ${loadavg()[0]?.toFixed(1)}`);
    for (let round = 1; round <= rounds; round++) {
      const results: { write: RecordWrite; perSec: number; cpu: number }[] = [];
      for (const write of ['insert', 'copy'] as const) {
        await pool.query('TRUNCATE records, gateways, gateway_heads');
        const r = await storeAll(pool, batches, write, perTx, concurrency, pgCpu);
        if (r.stored !== rows) throw new Error(`${write}: stored ${r.stored} of ${rows}`);
        results.push({ write, perSec: rows / (r.ms / 1000), cpu: (r.cpuMs * 1000) / rows });
      }
      // Into an empty table, as the ingest's rounds went into emptied ones.
      const baseline = await CopyBaseline.create(pool, PARTITIONS);
      const copy = await baseline.timed(0, async () => undefined, pgCpu);
      await baseline.drop();
      console.log(`-- round ${round}`);
      for (const r of results) line(`ingest(), records by ${r.write}`, r.perSec, r.cpu, copy.rowsPerSec);
      line('raw COPY of the same rows', copy.rowsPerSec, (copy.cpuMs * 1000) / copy.rows, copy.rowsPerSec);
    }
  } finally {
    await pool.end();
    await postgres.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
