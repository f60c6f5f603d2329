// Outage: the room vends on while the WAN comes and goes. A real daemon process (`run` with a
// config file, a real ledger file, card readers on ptys) vends continuously at the simulated
// machines; its uplink points at a real Mosquitto that is killed or stopped and started again at
// random intervals, and the reference cloud consumer (a process of its own) is restarted at
// random intervals too. At the end the broker and the consumer stay up until the backlog drains,
// and the consumer's store is compared with the ledger file: every outbox record exactly once,
// stored in per-gateway seq order, each money record with the ledger's own audit record.
//   --set outage.duration=<seconds of chaos>  (default 600, quick 30)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openLedger } from '../../storage/index.js';
import { loadOrCreateRoomSecret } from '../../gateway/core/room-secret.js';
import { silentLogger } from '../../gateway/core/log.js';
import { systemClock } from '../../gateway/core/clock.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { MACHINES, ROOM_ID } from '../engine/harness.js';
import { numParam, type TortureModule, type TortureOptions, type TortureResult } from './types.js';
import { seededRandom } from './lib-rng.js';
import { EVENTS_ALONG_MAX_DELAY_MS } from '../../storage/events-along.js';
import { MQTT_TIMING, machineFree, startCustomers, startOutageRoom } from './lib-outage-room.js';
import { ConsumerProcess, startChaos, waitUntil, type ChaosTiming } from './lib-outage-cloud.js';
import { SqliteProbe, consumerProgress, ledgerProgress } from './lib-outage-probe.js';
import { compareStores, readLedgerSide } from './lib-outage-check.js';

const FULL: ChaosTiming = { brokerUpMs: [5_000, 40_000], brokerDownMs: [1_000, 30_000], consumerUpMs: [5_000, 60_000], consumerDownMs: [200, 5_000] };
const QUICK: ChaosTiming = { brokerUpMs: [2_000, 6_000], brokerDownMs: [500, 4_000], consumerUpMs: [3_000, 8_000], consumerDownMs: [200, 2_000] };

async function run(opts: TortureOptions): Promise<TortureResult> {
  const durationSec = numParam(opts, 'duration', 600, 30);
  const drainDeadlineMs = numParam(opts, 'drainDeadlineSec', 300, 60) * 1000;
  // Two streams, so the fault schedule replays from the seed whatever the customers draw.
  const chaosRnd = seededRandom(opts.seed);
  const customerRnd = seededRandom(opts.seed ^ 0x9e3779b9);
  const violations: string[] = [];
  const notes: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'torture-outage-'));
  const cloudDb = join(dir, 'cloud.db');
  const broker = await startMosquitto();
  const consumer = new ConsumerProcess(broker.url, cloudDb);
  consumer.start();
  const probe = new SqliteProbe();
  const ledgerNow = async (): Promise<{ lastSeq: number; ackedSeq: number; unfinished: number }> => (await ledgerProgress(probe, room.dbPath)) ?? { lastSeq: -1, ackedSeq: -1, unfinished: -1 };
  const consumerNow = (): Promise<{ count: number; maxSeq: number }> => consumerProgress(probe, cloudDb, ROOM_ID);
  const started = Date.now();
  // warn and above: resends, broker errors, and anything unexpected
  const room = await startOutageRoom({ dir, brokerUrl: broker.url, keep: /"level":(40|50|60)/, timeScale: 2000 });
  let closed = false;
  try {
    opts.log(`outage: daemon up after ${Date.now() - started} ms; ${durationSec} s of broker and consumer chaos`);
    const customers = startCustomers(room, customerRnd);
    // After each outage: how long until the consumer holds every record the ledger had when the
    // broker came back (cut short, and not counted, if the broker goes down again first).
    const drains: number[] = [];
    const last: { drain: { ms: number | null; records: number } | null } = { drain: null };
    const watchDrain = async (downAgain: () => boolean): Promise<void> => {
      const back = Date.now();
      const { lastSeq: target, ackedSeq: acked } = await ledgerNow();
      if (target < 0) return;
      const entry = { ms: null as number | null, records: target - acked };
      last.drain = entry;
      while (!downAgain()) {
        const p = await consumerNow();
        if (p.maxSeq >= target && p.count === p.maxSeq) {
          entry.ms = Date.now() - back;
          drains.push(entry.ms);
          return;
        }
        await sleep(100);
      }
    };
    const chaos = startChaos(broker, consumer, opts.quick ? QUICK : FULL, chaosRnd, (s) => opts.log(`outage: ${s}`), (downAgain) => void watchDrain(downAgain));
    const chaosUntil = Date.now() + durationSec * 1000;
    while (Date.now() < chaosUntil) {
      await sleep(Math.min(10_000, chaosUntil - Date.now()));
      const l = await ledgerNow();
      opts.log(`outage: ${Math.round((Date.now() - started) / 1000)} s: ${customers.swipes()} swipes, outbox ${l.ackedSeq}/${l.lastSeq} acked, consumer holds ${(await consumerNow()).count}`);
      if (room.daemon.exitCode !== null || room.daemon.signalCode !== null) break;
    }
    // The last outage ends here: from now on the broker and the consumer stay up.
    const lastOutageEnded = await chaos.stop();
    let backlog = -1;
    for (let i = 0; backlog < 0 && i < 50; i++) backlog = (await ledgerNow()).lastSeq;
    const drained = await waitUntil(async () => {
      const p = await consumerNow();
      return p.maxSeq >= backlog && p.count === p.maxSeq;
    }, drainDeadlineMs);
    const drainMs = Date.now() - lastOutageEnded;
    if (!drained) violations.push(`the backlog of ${backlog} records did not drain within ${drainDeadlineMs / 1000} s after the last outage (consumer holds ${(await consumerNow()).count})`);
    opts.log(`outage: backlog up to seq ${backlog} drained ${drained ? 'in' : 'NOT within'} ${drainMs} ms`);

    // Customers leave; vends settle, machines finish, and the last records go up.
    await customers.stop();
    opts.log('outage: customers gone; waiting for the room to settle and the outbox to empty');
    const settled = await waitUntil(async () => (await ledgerNow()).unfinished === 0, 30_000);
    if (!settled) violations.push('vends were left unfinished with every machine reachable');
    let stableSince = Date.now();
    let lastSeen = -1;
    // A machine's status event waits up to EVENTS_ALONG_MAX_DELAY_MS in the daemon for a commit to
    // ride on (storage/events-along.ts; a cycle's end longer: CYCLE_END_EVENT_DELAY_MS), and the
    // daemon sees a change at its next poll: a quiet ledger proves nothing until every machine has
    // been free for longer than the short delay. What still waits then, the stop writes after the
    // uplink is gone (sent at the next start): compareStores allows exactly those, status events
    // at the outbox's tail, and counts them.
    const settleMs = EVENTS_ALONG_MAX_DELAY_MS + 2500;
    let allFreeSince: number | null = null;
    const quiet = await waitUntil(async () => {
      const l = await ledgerNow();
      if (l.lastSeq !== lastSeen) {
        lastSeen = l.lastSeq;
        stableSince = Date.now();
      }
      const allFree = Object.keys(MACHINES).every((id) => machineFree(room.sim.room, id));
      if (!allFree) allFreeSince = null;
      else allFreeSince ??= Date.now();
      const roomSettled = allFreeSince !== null && Date.now() - allFreeSince > settleMs;
      return roomSettled && l.lastSeq >= 0 && l.ackedSeq === l.lastSeq && (await consumerNow()).count === l.lastSeq && Date.now() - stableSince > 2000;
    }, 60_000);
    if (!quiet) notes.push('the outbox was still moving 60 s after the customers left; compared as it stood');

    closed = true;
    opts.log('outage: stopping the daemon (SIGTERM), the consumer and the broker');
    // Whole ms, as the ledger stores created_ms.
    const stopBeganMs = Math.floor(Date.now());
    await room.close();
    const exit = await room.exited;
    if (exit.code !== 0) violations.push(`the daemon did not stop cleanly on SIGTERM: code ${String(exit.code)} signal ${String(exit.signal)}`);
    await consumer.stop('SIGTERM');
    await broker.close();

    const ledger = readLedgerSide(room.dbPath);
    const cmp = compareStores(ledger, cloudDb, ROOM_ID, stopBeganMs, violations);
    const l = openLedger({ path: room.dbPath, roomSecret: loadOrCreateRoomSecret(join(dir, 'state', 'room-secret')), gatewayId: ROOM_ID, bootId: 'outage-check', clock: systemClock, logger: silentLogger() });
    try {
      const audit = l.verifyAudit();
      if (!audit.ok) violations.push(`audit chain: ${JSON.stringify(audit)}`);
      for (const p of l.selfCheck().problems) violations.push(`ledger self-check: ${p}`);
    } finally {
      l.close();
    }
    const resends = room.kept.filter((x) => x.includes('batch resent')).length;
    const errors = new Map<string, number>();
    for (const line of room.kept) {
      if (!/"level":(50|60)/.test(line)) continue;
      const msg = /"msg":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 120);
      errors.set(msg, (errors.get(msg) ?? 0) + 1);
    }
    for (const [msg, n] of errors) notes.push(`daemon logged ${n}× error "${msg}"`);
    if (probe.stuckReads > 0) notes.push(`${probe.stuckReads} progress reads of a SQLite file did not answer within 5 s`);
    if (consumer.unexpectedExits > 0) notes.push(`the consumer CLI exited on its own ${consumer.unexpectedExits}× (a first connect refused while the broker was down) and was started again`);
    notes.push(`uplink timing: ${JSON.stringify(MQTT_TIMING)} (a tenth of the defaults)`);
    const captured = ledger.vends.captured ?? 0;
    return {
      name: 'outage',
      violations,
      figures: {
        durationSec,
        swipes: customers.swipes(),
        vends: Object.values(ledger.vends).reduce((a, b) => a + b, 0),
        captured,
        refunded: ledger.vends.refunded ?? 0,
        vendsPerSec: Number((captured / durationSec).toFixed(2)),
        records: ledger.lastSeq,
        moneyRecords: cmp.moneyRecords,
        consumerStored: cmp.stored,
        storedAheadOfHole: cmp.storedAheadOfHole,
        statusWrittenAtStop: cmp.writtenAtStop,
        brokerRestarts: chaos.figures.brokerRestarts,
        brokerDownSec: Number((chaos.figures.brokerDownMs / 1000).toFixed(1)),
        longestOutageSec: Number((chaos.figures.longestBrokerOutageMs / 1000).toFixed(1)),
        consumerRestarts: chaos.figures.consumerRestarts,
        longestConsumerOutageSec: Number((chaos.figures.longestConsumerOutageMs / 1000).toFixed(1)),
        drainSecAtEnd: Number((drainMs / 1000).toFixed(1)),
        drainedRecordsAtEnd: backlog,
        outagesDrained: drains.length,
        drainSecAfterOutageMax: drains.length ? Number((Math.max(...drains) / 1000).toFixed(1)) : 'n/a',
        drainSecAfterOutageMean: drains.length ? Number((drains.reduce((a, b) => a + b, 0) / drains.length / 1000).toFixed(1)) : 'n/a',
        drainSecAfterLastOutage: typeof last.drain?.ms === 'number' ? Number((last.drain.ms / 1000).toFixed(1)) : 'n/a',
        backlogAtLastOutageEnd: last.drain?.records ?? 'n/a',
        batchResends: resends,
        seconds: Math.round((Date.now() - started) / 1000),
      },
      notes,
    };
  } finally {
    await probe.close();
    if (!closed) await room.close();
    await consumer.stop('SIGKILL');
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const outage: TortureModule = { name: 'outage', title: 'Broker and cloud consumer restarted at random during continuous vends: every record delivered once, in order', run };
export default outage;
