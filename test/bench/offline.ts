// Issue 8, item 6: a long time offline. The swipe latency (same measure as swipe.ts) with 60 000
// unsent records in the outbox, against a daemon with an empty one, measured side by side; then
// the cloud acknowledges the backlog and retention prunes what it may, and the ledger file's
// size is read: empty, with the backlog, after ack + prune, after a checkpoint and a VACUUM.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { silentLogger } from '../../gateway/core/log.js';
import { openDatabase } from '../../storage/db.js';
import { CARDS } from '../engine/harness.js';
import { fillBacklog } from './lib-backlog.js';
import { loadNote, numParam, round } from './lib-stats.js';
import { artifactsDir, startVendRig, type SwipeRun } from './lib-vend.js';
import { latencyFigures, otherText } from './swipe.js';
import type { BenchModule, BenchOptions, BenchResult } from './types.js';

const MB = 1024 * 1024;

/** The database file and its WAL, bytes. */
function fileBytes(dbPath: string): { db: number; wal: number } {
  const size = (p: string): number => (existsSync(p) ? statSync(p).size : 0);
  return { db: size(dbPath), wal: size(`${dbPath}-wal`) };
}

function mb(x: number): number {
  return round(x / MB, 2);
}

async function run(opts: BenchOptions): Promise<BenchResult> {
  const records = numParam(opts, 'records', 60_000, 20_000);
  const vends = numParam(opts, 'vends', 300, 40);
  const machines = numParam(opts, 'machines', 24, 24);
  const maxSeconds = numParam(opts, 'maxSeconds', 600, 60);
  const tmp = artifactsDir('bench-offline-');
  try {
    // What a new room's ledger weighs: the schema and nothing else.
    const emptyPath = `${tmp.dir}/empty.db`;
    const empty = openDatabase({ path: emptyPath, logger: silentLogger() });
    empty.pragma('wal_checkpoint(TRUNCATE)');
    empty.close();
    const emptyBytes = fileBytes(emptyPath).db;

    // Two rigs side by side in this process, one on an empty ledger and one on the backlog,
    // swiped in alternating chunks: both see the same machine load, so the ratio holds.
    const dbPath = `${tmp.dir}/ledger.db`;
    let filled = { records: 0, vends: 0, accounts: 0, seconds: 0 };
    const rig = await startVendRig({
      dbPath,
      machines,
      gapMs: 5500,
      beforeStart: (p) => {
        filled = fillBacklog(p, records);
      },
    });
    const withBacklogBytes = fileBytes(dbPath);
    let pruned = { vends: 0, entries: 0, auditRecords: 0, anchorSeq: 0 };
    let acked = 0;
    let depthWith = 0;
    const withRun: SwipeRun = { samples: [], secureSamples: [], other: new Map(), seconds: 0 };
    const noneRun: SwipeRun = { samples: [], secureSamples: [], other: new Map(), seconds: 0 };
    const add = (into: SwipeRun, r: SwipeRun): void => {
      into.samples.push(...r.samples);
      for (const [k, v] of r.other) into.other.set(k, (into.other.get(k) ?? 0) + v);
      into.seconds += r.seconds;
    };
    try {
      const ledger = rig.daemon.ledger;
      depthWith = ledger.outbox.stats().depth;
      opts.log(`offline: backlog of ${filled.records} records (${filled.vends} vends over ${filled.accounts} accounts) written in ${filled.seconds.toFixed(1)} s; outbox depth ${depthWith}`);
      const clean = await startVendRig({ dbPath: `${tmp.dir}/clean/ledger.db`, machines, gapMs: 5500, beforeStart: () => mkdirSync(`${tmp.dir}/clean`) });
      try {
        const chunk = Math.max(5, Math.ceil(vends / 10));
        const until = Date.now() + maxSeconds * 1000;
        while ((withRun.samples.length < vends || noneRun.samples.length < vends) && Date.now() < until) {
          add(withRun, await rig.swipes(chunk, maxSeconds, 1));
          add(noneRun, await clean.swipes(chunk, maxSeconds, 1));
        }
      } finally {
        await clean.close();
      }
      opts.log(`offline: ${withRun.samples.length} vends with the backlog, ${noneRun.samples.length} on the empty ledger`);

      // The cloud comes back: it acknowledges everything and sends fresh account snapshots
      // (their coverage is the ack watermark), and the daily retention runs.
      const stats = ledger.outbox.stats();
      acked = ledger.outbox.ack(stats.lastSeq).retired;
      for (let a = 0; a < filled.accounts; a++) ledger.applyAccountSnapshot({ accountId: `acct-backlog-${a}`, version: 2, balanceCents: 10_000_000, points: 0, tier: 'standard', coveredSeq: stats.lastSeq });
      const alice = ledger.balance(CARDS.alice.accountId);
      ledger.applyAccountSnapshot({ accountId: CARDS.alice.accountId, version: (alice?.snapshotVersion ?? 0) + 1, balanceCents: alice?.balanceCents ?? 0, points: 0, tier: 'standard', coveredSeq: stats.lastSeq });
      pruned = ledger.pruneHistory({ beforeMs: Date.now() + 1 });
      opts.log(`offline: acknowledged ${acked} records, pruned ${pruned.vends} vends and ${pruned.auditRecords} audit records`);
    } finally {
      await rig.close();
    }
    const afterPruneBytes = fileBytes(dbPath);
    // A tenth of the backlog again: it lands in the pages the prune freed, the file stays put.
    fillBacklog(dbPath, Math.floor(records / 10));
    const afterRefillBytes = fileBytes(dbPath);
    const db = new Database(dbPath);
    const freelist = Number(db.pragma('freelist_count', { simple: true }));
    const pages = Number(db.pragma('page_count', { simple: true }));
    const pageSize = Number(db.pragma('page_size', { simple: true }));
    db.pragma('wal_checkpoint(TRUNCATE)');
    const afterCheckpointBytes = fileBytes(dbPath);
    db.exec('VACUUM');
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const afterVacuumBytes = fileBytes(dbPath);

    const w = latencyFigures('with 60 000 unsent: swipe → CREDIT', withRun);
    const n = latencyFigures('empty outbox: swipe → CREDIT', noneRun);
    const ratio50 = n.p50 / w.p50;
    const ratio99 = n.p99 / w.p99;
    const withFigures = w.figures.map((f) => ({ ...f, label: f.label.replace('60 000', depthWith.toLocaleString('en-US')), target: undefined, pass: undefined }));
    const noneFigures = n.figures.map((f) => ({ ...f, target: undefined, pass: undefined }));
    return {
      name: 'offline',
      figures: [
        { label: 'outbox depth while measuring "with"', value: depthWith, unit: 'records' },
        ...withFigures,
        ...noneFigures,
        { label: 'p50 latency: without / with backlog', value: round(ratio50), unit: 'ratio', target: '≥ 0.9', pass: ratio50 >= 0.9 },
        { label: 'p99 latency: without / with backlog', value: round(ratio99), unit: 'ratio' },
        { label: 'ledger file, empty room (schema only)', value: mb(emptyBytes), unit: 'MB' },
        { label: 'ledger file + WAL with the backlog', value: mb(withBacklogBytes.db + withBacklogBytes.wal), unit: 'MB' },
        { label: 'ledger file + WAL after ack + prune (daemon stopped)', value: mb(afterPruneBytes.db + afterPruneBytes.wal), unit: 'MB' },
        { label: `ledger file after ${Math.floor(records / 10)} new records written after the prune`, value: mb(afterRefillBytes.db), unit: 'MB' },
        { label: 'that / after prune (≤ 1: freed pages reused, no growth)', value: round(afterRefillBytes.db / afterPruneBytes.db, 3), unit: 'ratio' },
        { label: 'ledger file after checkpoint', value: mb(afterCheckpointBytes.db), unit: 'MB' },
        { label: `ledger file after VACUUM (still holding the ${Math.floor(records / 10)} new, unacknowledged records)`, value: mb(afterVacuumBytes.db), unit: 'MB' },
      ],
      notes: [
        `backlog: ${filled.records} outbox records = ${filled.vends} account-funded card vends (hold, credit_sent, capture) over ${filled.accounts} accounts + machine_state events, written through the storage functions in one transaction before the daemon opened the file`,
        `latency rig as in swipe (${machines} machines, one swipe at a time, ledger at synchronous=FULL on the repository disk); two daemons in one process, one on the backlog and one on an empty ledger, swiped in alternating chunks so both see the same machine load`,
        `then the cloud comes back: ack of all ${acked} records, account snapshots covering them, pruneHistory with the cut-off at now (the daemon prunes daily what is older than database.retentionDays)`,
        `pruned ${pruned.vends} vends and ${pruned.auditRecords} audit records; after the refill the file has ${pages} pages of ${pageSize} bytes, ${freelist} of them still free (SQLite reuses free pages, so the file stays at its high-water mark instead of growing); the daemon itself never runs VACUUM`,
        `not captured (retried): with ${otherText(withRun.other)}; without ${otherText(noneRun.other)}`,
        loadNote(),
      ],
    };
  } finally {
    tmp.cleanup();
  }
}

const bench: BenchModule = { name: 'offline', title: 'Vend latency with a week offline, and the ledger size after', run };
export default bench;
