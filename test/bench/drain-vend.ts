// Issue 16: vending while a backlog drains. When the WAN comes back after a week, the uplink
// sends ~60 000 records as fast as the broker and the cloud take them; the customer swiping at
// that moment must not wait for it. Two vend rigs in this process (lib-vend: the real Daemon,
// 24 LW-485 machines over RTU/TCP, a card reader per machine on a socat pty, the ledger on the
// repository's disk at synchronous=FULL), both with their uplink connected to a local Mosquitto
// and the reference cloud consumer (a process of its own, acking what it stored):
//   - "draining": in each round a backlog of `records` unsent records is written into its ledger
//     (the storage functions, lib-backlog), then swipes run one customer at a time for as long as
//     the uplink has not had the whole backlog acknowledged; a swipe is a sample only if the
//     drain was still running when it started and when it ended;
//   - "empty": right after each round, the same number of swipes on a ledger with nothing to send.
// Rounds repeat until `vends` samples (a 60 000-record drain takes a few seconds, ~4 swipes a
// second fit). Also the event loop's delay during the drains, where a long synchronous step of
// the uplink (an outbox read, an ack's delete and fsync) would show.
// Parameters (--set drain-vend.<key>=v): records (60000), vends (300; quick 40), machines (24),
// maxSeconds (900; quick 300: the last round's drain still runs to its end), maxCount (the
// uplink's batch.maxCount; default: the config default, 500), cloudNice (19: the cloud consumer's
// nice level, 0 to let it compete with the daemon as an equal). DRAIN_VEND_TRACE=<file> writes the
// drains' times, each swipe and each loop delay for test/bench/cpu-stalls.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GatewayConfigInput } from '../../gateway/config/schema.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { TURN_PAGE } from '../../gateway/web/activity.js';
import { fillBacklog } from './lib-backlog.js';
import { ascending, loadNote, numParam, percentile, round } from './lib-stats.js';
import { artifactsDir, startVendRig, type SwipeRun, type VendRig } from './lib-vend.js';
import { latencyFigures, otherText } from './swipe.js';
import type { BenchModule, BenchOptions, BenchResult } from './types.js';

/**
 * The reference cloud in a process of its own (test/uplink/child-cloud.ts), as in production, at
 * the given nice level. On the Pi the cloud is another machine; here it takes ~60 µs of CPU per
 * record, more than one of the two cores at the drain's ~19 000 records/s, and the daemon's
 * thread then waits for a core (CPU profile: test/bench/cpu-stalls.ts). At nice 19 it gets the CPU
 * the Pi's side leaves.
 */
async function startCloud(url: string, dir: string, nice: number): Promise<{ stop(): Promise<string> }> {
  const script = fileURLToPath(new URL('../uplink/child-cloud.ts', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script, url, join(dir, 'cloud.db'), join(dir, 'payloads.bin')], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (child.pid !== undefined && nice !== 0) setPriority(child.pid, nice);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const until = Date.now() + 60_000;
  while (!out.includes('ready\n') && child.exitCode === null && Date.now() < until) await sleep(50);
  if (!out.includes('ready\n')) {
    child.kill('SIGKILL');
    throw new Error('the cloud process did not start');
  }
  return {
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return out.split('\n').filter((l) => l.startsWith('{')).at(-1) ?? '{}';
    },
  };
}

/**
 * How late a 5 ms timer fires, sampled only while on(): a synchronous step of the uplink (an
 * outbox read, an ack's delete and fsync) shows here as the customer's wait.
 */
function lagSampler(): { on(): void; off(): void; samples: number[]; late: [number, number][] } {
  const samples: number[] = [];
  const late: [number, number][] = [];
  let timer: NodeJS.Timeout | null = null;
  const tick = (due: number): void => {
    timer = setTimeout(() => {
      const now = performance.now();
      samples.push(Math.max(0, now - due));
      if (now - due > 30) late.push([toProfileUs(now), now - due]);
      tick(performance.now() + 5);
    }, 5);
  };
  return {
    samples,
    late,
    on: () => tick(performance.now() + 5),
    off: () => {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

/** A full garbage collection (V8's gc(), exposed for this process without --expose-gc). */
function fullGc(): void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc === 'function') gc();
}

/** performance.now() on the clock of V8's CPU profiles and process.hrtime (CLOCK_MONOTONIC), in µs. */
const PROFILE_OFFSET_US = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;
function toProfileUs(perfNowMs: number): number {
  return Math.round(PROFILE_OFFSET_US + perfNowMs * 1000);
}
/** Wall-clock µs minus the profile's clock: lines of `strace -ttt` onto the trace's times. */
const WALL_OFFSET_US = Math.round(performance.timeOrigin * 1000 - PROFILE_OFFSET_US);

/** Times each call of a ledger method (the bench's view of the uplink's synchronous steps). */
function timed<A extends unknown[], R>(fn: (...a: A) => R, into: number[]): (...a: A) => R {
  return (...a) => {
    const t0 = performance.now();
    try {
      return fn(...a);
    } finally {
      into.push(performance.now() - t0);
    }
  };
}

/**
 * The simulated customers look at the machines every 100 ms (the poll interval) instead of
 * lib-vend's 10 ms: each look snapshots 24 units on the daemon's event loop (its CPU and
 * garbage were the bench's, measured as the customer's wait); a cycle starts up to 0.1 s later.
 */
const ATTENDANT_MS = 100;

function add(into: SwipeRun, r: SwipeRun): void {
  into.samples.push(...r.samples);
  into.starts?.push(...(r.starts ?? []));
  for (const [k, v] of r.other) into.other.set(k, (into.other.get(k) ?? 0) + v);
  into.seconds += r.seconds;
}

function withUplink(url: string, roomId: string, maxCount: number | undefined): (c: GatewayConfigInput) => GatewayConfigInput {
  // A quick reconnect: the broker is local and up; everything else is the default uplink
  // (batches of ≤ 500 records / 128 KiB, 4 in flight) unless maxCount is set.
  return (c) => ({ ...c, room: { ...c.room, id: roomId }, mqtt: { url, reconnect: { minMs: 100, maxMs: 1000 }, ...(maxCount === undefined ? {} : { batch: { maxCount } }) } });
}

async function run(opts: BenchOptions): Promise<BenchResult> {
  const records = numParam(opts, 'records', 60_000, 60_000);
  const vends = numParam(opts, 'vends', 300, 40);
  const machines = numParam(opts, 'machines', 24, 24);
  const maxSeconds = numParam(opts, 'maxSeconds', 900, 300);
  const maxCount = opts.params.has('maxCount') ? numParam(opts, 'maxCount', 500, 500) : undefined;
  const cloudNice = numParam(opts, 'cloudNice', 19, 19);
  const tmp = artifactsDir('bench-drain-vend-');
  // The cloud is not the Pi: its database on tmpfs, so its fsyncs do not compete for our disk.
  const cloudDir = mkdtempSync(join('/dev/shm', 'bench-drain-vend-cloud-'));
  const broker = await startMosquitto();
  const rigs: VendRig[] = [];
  try {
    const cloud = await startCloud(broker.url, cloudDir, cloudNice);
    let cloudStats = '{}';
    const withRun: SwipeRun = { samples: [], starts: [], secureSamples: [], other: new Map(), seconds: 0 };
    const drainWindows: [number, number][] = [];
    const noneRun: SwipeRun = { samples: [], secureSamples: [], other: new Map(), seconds: 0 };
    const drains: { records: number; ms: number }[] = [];
    const fills: number[] = [];
    const lag = lagSampler();
    const reads: number[] = [];
    const acks: number[] = [];
    let lastTarget = 0;
    let ackedAtEnd = 0;
    let checkpoints = '';
    try {
      const dbPath = `${tmp.dir}/ledger.db`;
      const busy = await startVendRig({ dbPath, machines, gapMs: 5500, attendantMs: ATTENDANT_MS, configure: withUplink(broker.url, 'room-draining', maxCount) });
      rigs.push(busy);
      mkdirSync(`${tmp.dir}/clean`);
      const clean = await startVendRig({ dbPath: `${tmp.dir}/clean/ledger.db`, machines, gapMs: 5500, attendantMs: ATTENDANT_MS, configure: withUplink(broker.url, 'room-empty', maxCount) });
      rigs.push(clean);
      const outbox = busy.daemon.ledger.outbox;
      outbox.nextBatchText = timed(outbox.nextBatchText.bind(outbox), reads);
      outbox.ack = timed(outbox.ack.bind(outbox), acks);
      const checkpointsSeen: number[][] = [];
      const walCp = busy.daemon.ledger.walCheckpoints;
      if (walCp !== null) walCp.onCheckpoint = (c) => checkpointsSeen.push([toProfileUs(c.startedAt), toProfileUs(c.endedAt), c.pending, c.frames, c.copied, Math.round(c.workerMs * 10) / 10]);
      const uplink = busy.daemon.uplink;
      if (uplink === null) throw new Error('the draining rig has no uplink');
      const until = Date.now() + maxSeconds * 1000;
      let roundNo = 0;
      let auditSeen = 0;
      while (withRun.samples.length < vends && Date.now() < until) {
        roundNo++;
        // A week offline, written while the daemon runs (its event loop is blocked meanwhile,
        // outside any measurement); the uplink sees it at its next outbox read.
        fills.push(fillBacklog(dbPath, records, { tag: `round${roundNo}`, machinePrefix: 'B', accounts: 50 }).seconds);
        // The status page follows the audit trail (web/activity.ts, one page per turn), and the
        // fill appended a week's audit records at once, which a room's trail never does (it grows
        // a vend at a time): caught up here, before the drain (each /metrics reads one page), so
        // the drain is measured, not the status page's catch-up.
        const auditBehind = busy.daemon.ledger.auditHead().seq - auditSeen;
        for (let p = 0; p <= Math.ceil(auditBehind / TURN_PAGE); p++) busy.daemon.web.metrics();
        auditSeen = busy.daemon.ledger.auditHead().seq;
        // The fill runs in this process and leaves ~100 MB of garbage that a daemon never has
        // (trace-gc: the drain's scavenges and mark-compacts collected it): collected here, still
        // in the fill's blocked stretch.
        fullGc();
        const target = busy.daemon.ledger.outbox.stats().lastSeq;
        lastTarget = target;
        // Let the timers the fill held up run before the drain starts.
        await sleep(300);
        const draining = (): boolean => uplink.stats().ackedSeq < target;
        const before = withRun.samples.length;
        const t0 = performance.now();
        const acked0 = uplink.stats().ackedSeq;
        lag.on();
        uplink.kick();
        while (draining() && Date.now() < until) add(withRun, await busy.swipes(1, 30, 1, { during: draining }));
        lag.off();
        drainWindows.push([toProfileUs(t0), toProfileUs(performance.now())]);
        // Out of time mid-drain: let it finish (not measured), so the round's figures are whole.
        for (const stop = Date.now() + 300_000; draining() && Date.now() < stop; ) await sleep(50);
        drains.push({ records: target - acked0, ms: performance.now() - t0 });
        const got = withRun.samples.length - before;
        opts.log(`drain-vend: round ${roundNo}: ${target - acked0} records drained in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${got} swipes during it (${withRun.samples.length}/${vends})`);
        // The same number of swipes on the rig with nothing to send.
        if (got > 0) add(noneRun, await clean.swipes(got, 120, 1));
      }
      ackedAtEnd = busy.daemon.ledger.outbox.stats().ackedSeq;
      const cp = busy.daemon.ledger.walCheckpoints;
      checkpoints = cp === null ? 'none' : `${cp.counts.background} in the checkpoint thread (${cp.threadsStarted} threads started), ${cp.counts.onLoop} on the event loop, ${cp.counts.failed} failed`;
      // For test/bench/cpu-stalls.ts beside a CPU profile of this process: when the drains ran,
      // each swipe and each loop delay over 30 ms, on the profile's clock.
      const traceFile = process.env.DRAIN_VEND_TRACE;
      if (traceFile) {
        const swipes = withRun.samples.map((ms, i): [number, number] => [toProfileUs(withRun.starts?.[i] ?? 0), ms]);
        writeFileSync(traceFile, JSON.stringify({ drains: drainWindows, swipes, lags: lag.late, checkpoints: checkpointsSeen, perfNowOffsetUs: PROFILE_OFFSET_US, wallOffsetUs: WALL_OFFSET_US }));
      }
    } finally {
      cloudStats = await cloud.stop();
    }
    if (ackedAtEnd < lastTarget) throw new Error(`the backlog did not drain: acked ${ackedAtEnd} of ${lastTarget}`);
    const w = latencyFigures('while a backlog drains: swipe → CREDIT', withRun);
    const n = latencyFigures('same swipes, empty outbox: swipe → CREDIT', noneRun);
    const drained = drains.reduce((s, d) => s + d.records, 0);
    const drainMs = drains.reduce((s, d) => s + d.ms, 0);
    const pct = (xs: number[], p: number): number => round(percentile(ascending(xs), p), 1);
    return {
      name: 'drain-vend',
      figures: [
        ...w.figures,
        ...n.figures,
        { label: 'p99: empty / draining (1 = the drain costs the customer nothing)', value: round(n.p99 / w.p99), unit: 'ratio' },
        { label: `drain rate while vending (${drains.length} drains of ~${records} records)`, value: Math.round((drained / drainMs) * 1000), unit: 'records/s' },
        { label: 'event-loop lateness during the drains, p99', value: pct(lag.samples, 99), unit: 'ms' },
        { label: 'event-loop lateness during the drains, max', value: pct(lag.samples, 100), unit: 'ms' },
        { label: `uplink outbox read (one slice of ≤ 100 records), p50 / max of ${reads.length}`, value: pct(reads, 50), unit: `ms / ${pct(reads, 100)}` },
        { label: `uplink ack write (delete, no fsync of its own), p50 / max of ${acks.length}`, value: pct(acks, 50), unit: `ms / ${pct(acks, 100)}` },
      ],
      notes: [
        `${drains.length} rounds: each writes ${records} unsent records into the draining rig's ledger (${(fills.reduce((s, x) => s + x, 0) / Math.max(1, fills.length)).toFixed(1)} s each, outside the measurement), then swipes one customer at a time until the uplink has it all acknowledged; a swipe counts only if it started and ended during the drain`,
        `the same number of swipes on the empty rig after each round; both rigs: ${machines} LW-485 machines polled every 100 ms, ledger on the repository's disk at synchronous=FULL, uplink to the same local Mosquitto (set_tcp_nodelay), the reference cloud consumer in a process of its own at nice ${cloudNice} (its database on /dev/shm), batches of ≤ ${maxCount ?? 500} records / 128 KiB, 4 in flight`,
        `not sampled: draining ${otherText(withRun.other)}; empty ${otherText(noneRun.other)}`,
        `cloud consumer: ${cloudStats}`,
        `the draining rig's WAL checkpoints: ${checkpoints}`,
        loadNote(),
      ],
    };
  } finally {
    for (const r of rigs.reverse()) await r.close().catch(() => undefined);
    await broker.close();
    rmSync(cloudDir, { recursive: true, force: true });
    tmp.cleanup();
  }
}

const bench: BenchModule = { name: 'drain-vend', title: 'Swipe latency while a 60 000-record backlog drains, beside an empty outbox', run };
export default bench;
