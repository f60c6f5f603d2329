// npm run fleet: 1 000 gateways (real ledgers, real uplinks) in a few host processes, two
// bridged Mosquitto brokers, ingest workers on both, PostgreSQL; a realistic day's rate, a
// burst, the raw COPY baseline, workers 1 → 2 → 4, a broker down for 10 minutes while the rooms
// vend, a worker killed and PostgreSQL crashed mid-stream, every gateway reconnecting at once;
// then the exactly-once check and the figures beside the targets. Options:
//   --gateways 1000 --hosts 4 --outage-sec 600 --day-sec 60 --day-rate 0.0167 --burst 40 --rounds 3 --quick
//   --burst-only (connect, burst, raw COPY, workers 1 → 2 → 4, verify: no day rate, no chaos;
//   what fits a quiet window), --chaos-only (connect, the chaos steps, verify: no day rate, burst,
//   COPY nor scaling; the 10-minute outage fits a 15-minute window), --pool-size 4 (each worker's PostgreSQL connections: its
//   transactions at once), --pg-stats (pg_stat_statements: PostgreSQL's time per statement of each
//   timed drain and the transaction size, printed), --tx-in-flight 2 (each worker's ingest
//   transactions at once), --cold (no warm-up drain before each timed one), --skip-scaling (no
//   workers 1 → 2 → 4: a before/after of the burst alone)
// Diagnostics (environment): FLEET_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (the
// workers' node flags), FLEET_WORKER_LOG=debug (each commit logged with its size and time),
// FLEET_WORKER_LOG_FILE=/tmp/w (the workers' logs also to /tmp/w.<worker name>).
import { mkdirSync, writeFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { parseArgs } from 'node:util';
import { CopyBaseline, type CopyFigures } from './copy-baseline.js';
import { cpuMs, postgresCpuMs } from './cpu.js';
import { load, load1, mb, ms, pct, table, type Row } from './figures.js';
import { runChaos } from './chaos.js';
import { describePgStats } from './pg-stats.js';
import { FleetRig } from './rig.js';
import { describeSpan, machineCpu, pgCounters, spanStats, type SpanStats } from './span-stats.js';

const { values } = parseArgs({
  options: {
    gateways: { type: 'string', default: '1000' },
    hosts: { type: 'string', default: '4' },
    'outage-sec': { type: 'string', default: '600' },
    'day-sec': { type: 'string', default: '60' },
    /** Actions per gateway per second: one a minute is a busy room's day (vends, states, top-ups). */
    'day-rate': { type: 'string', default: String(1 / 60) },
    burst: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    'burst-only': { type: 'boolean', default: false },
    'chaos-only': { type: 'boolean', default: false },
    'pool-size': { type: 'string', default: '4' },
    'pg-stats': { type: 'boolean', default: false },
    'tx-in-flight': { type: 'string' },
    cold: { type: 'boolean', default: false },
    'skip-scaling': { type: 'boolean', default: false },
  },
});
const q = values.quick;
const N = q ? 60 : Number(values.gateways);
const HOSTS = q ? 2 : Number(values.hosts);
const OUTAGE_MS = (q ? 20 : Number(values['outage-sec'])) * 1000;
const DAY_MS = (q ? 10 : Number(values['day-sec'])) * 1000;
const DAY_RATE = Number(values['day-rate']) * (q ? 10 : 1);
const BURST = q ? 10 : Number(values.burst);
/** Interleaved rounds of the burst and its raw COPY; the ratio is their median. */
const ROUNDS = q ? 2 : Number(values.rounds);
const BURST_ONLY = values['burst-only'];
const CHAOS_ONLY = values['chaos-only'];
if (BURST_ONLY && CHAOS_ONLY) throw new Error('--burst-only and --chaos-only leave nothing to run together');
const POOL_SIZE = Number(values['pool-size']);
const TX_IN_FLIGHT = values['tx-in-flight'] === undefined ? undefined : Number(values['tx-in-flight']);
/**
 * Actions per gateway of the untimed drain before each timed one: a worker in a fleet runs for
 * days, its code compiled and its PostgreSQL backends warm; a worker's first seconds (JIT, the
 * backends' caches, the named statements prepared) are not the ingest rate.
 */
const WARM_ACTIONS = values.cold ? 0 : Math.max(2, Math.round(BURST / 4));

const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));
const T0 = performance.now();
const say = (s: string): void => void process.stdout.write(`[${((performance.now() - T0) / 1000).toFixed(0).padStart(5)} s, load ${load()}] ${s}\n`);

interface PartsCpu {
  workers: number;
  postgres: number;
  brokers: number;
}

interface Drain {
  records: number;
  ms: number;
  perSec: number;
  gatewaysFrozen: boolean;
  load: string;
  cpuUsPerRecord: PartsCpu;
  thawedAtMs: number;
  span: SpanStats;
}

/** CPU ms so far of the cloud's parts (the processes running now; a restarted worker is a new pid). */
function partsCpuMs(rig: FleetRig): PartsCpu {
  return { workers: cpuMs(rig.workers.map((w) => w.pid)), postgres: postgresCpuMs(rig.postgres.dataDir), brokers: cpuMs(rig.brokers.map((b) => b.pid)) };
}

/** CPU ms so far of the rig's own processes: the cloud's parts, the gateway hosts and this process. */
function rigCpuMs(rig: FleetRig, parts: () => PartsCpu = () => partsCpuMs(rig)): { parts: PartsCpu; all: number } {
  const p = parts();
  const self = process.cpuUsage();
  return { parts: p, all: p.workers + p.postgres + p.brokers + cpuMs(rig.hosts.map((h) => h.pid)) + (self.user + self.system) / 1000 };
}

/**
 * The cloud's ingest rate: a backlog queued at the brokers while the workers are frozen, then
 * timed from thawing them until PostgreSQL holds every record (rig.frozenDrain), with the CPU
 * each part spent per record over that span and what else ran meanwhile (span-stats.ts).
 * PostgreSQL is settled (VACUUM, CHECKPOINT) before the span, as before each timed COPY.
 */
async function drainRate(rig: FleetRig, actions: number, phase: string, onlyUrl?: string): Promise<Drain> {
  const pids = { workers: rig.workers.map((w) => w.pid), brokers: rig.brokers.map((b) => b.pid) };
  const parts = (): PartsCpu => ({ workers: cpuMs(pids.workers), postgres: postgresCpuMs(rig.postgres.dataDir), brokers: cpuMs(pids.brokers) });
  let cpu0 = rigCpuMs(rig, parts);
  let m0 = machineCpu();
  let p0 = await pgCounters(rig.pool);
  const r = await rig.frozenDrain(actions, phase, onlyUrl, {
    settle: async () => {
      await rig.settlePostgres();
      p0 = await pgCounters(rig.pool);
    },
    onStart: () => {
      cpu0 = rigCpuMs(rig, parts);
      m0 = machineCpu();
    },
  });
  const cpu1 = rigCpuMs(rig, parts);
  const m1 = machineCpu();
  const p1 = await pgCounters(rig.pool);
  if (r.pgStats) say(`${phase}: PostgreSQL per statement over the drain (${r.records} records):\n${describePgStats(r.pgStats, r.records)}`);
  const loadAt = load1();
  const per = (k: keyof PartsCpu): number => Math.round(((cpu1.parts[k] - cpu0.parts[k]) * 1000) / Math.max(1, r.records));
  const cpu = { workers: per('workers'), postgres: per('postgres'), brokers: per('brokers') };
  const span = spanStats(m0, m1, cpu1.all - cpu0.all, p0, p1);
  // Acks applied by every gateway before the next step.
  await rig.waitDrained(10 * 60_000, `${phase} acked`);
  return { records: r.records, ms: r.ms, perSec: r.records / (r.ms / 1000), gatewaysFrozen: r.gatewaysFrozen, load: loadAt, cpuUsPerRecord: cpu, thawedAtMs: r.thawedAtMs, span };
}

interface Round {
  burst: Drain;
  copy: CopyFigures;
  copyCpuUs: number;
  copySpan: SpanStats;
  copyLoad: string;
  ratio: number;
}

interface Speed {
  rounds: Round[];
  /** The round whose ratio is the median (the figures printed beside the targets). */
  median: Round;
  scaling: { workers: number; perSec: number; load: string; frozen: boolean; cpu: PartsCpu }[];
}

/** A timed raw COPY of a drain's rows, PostgreSQL settled first, with what else ran meanwhile. */
async function copyRound(rig: FleetRig, baseline: CopyBaseline, burst: Drain): Promise<Omit<Round, 'burst' | 'ratio'>> {
  let cpu0 = 0;
  let m0 = machineCpu();
  let p0 = await pgCounters(rig.pool);
  const pgCpu = (): number => postgresCpuMs(rig.postgres.dataDir);
  const copy = await baseline.timed(
    burst.thawedAtMs,
    async () => {
      await rig.settlePostgres();
      p0 = await pgCounters(rig.pool);
      cpu0 = rigCpuMs(rig).all;
      m0 = machineCpu();
    },
    pgCpu,
  );
  const m1 = machineCpu();
  const cpu1 = rigCpuMs(rig).all;
  const p1 = await pgCounters(rig.pool);
  return { copy, copyCpuUs: (copy.cpuMs * 1000) / Math.max(1, copy.rows), copySpan: spanStats(m0, m1, cpu1 - cpu0, p0, p1), copyLoad: load1() };
}

/**
 * ROUNDS interleaved rounds of the burst (2 workers) and a raw COPY of its rows, the ratio the
 * median of the rounds' (one round's figure moves with whatever else ran in its second or two);
 * then workers 1 → 2 → 4 on broker A (its gateways only). The gateway hosts run at nice 19
 * meanwhile: here they are the harness.
 */
async function burstAndScaling(rig: FleetRig, say: (s: string) => void): Promise<Speed> {
  const ownNice = getPriority();
  rig.setHostPriority(19);
  try {
    if (WARM_ACTIONS > 0) await drainRate(rig, WARM_ACTIONS, 'burst warm-up');
    const baseline = await CopyBaseline.create(rig.pool, 16);
    const rounds: Round[] = [];
    for (let i = 1; i <= ROUNDS; i++) {
      const burst = await drainRate(rig, BURST, `burst ${i}`);
      const c = await copyRound(rig, baseline, burst);
      const round = { burst, ...c, ratio: burst.perSec / c.copy.rowsPerSec };
      rounds.push(round);
      say(`round ${i}: ingest ${burst.records} records in ${ms(burst.ms)} = ${burst.perSec.toFixed(0)}/s (CPU µs/record w/pg/br ${burst.cpuUsPerRecord.workers}/${burst.cpuUsPerRecord.postgres}/${burst.cpuUsPerRecord.brokers}; ${describeSpan(burst.span)})`);
      say(`round ${i}: COPY ${c.copy.rows} rows in ${ms(c.copy.ms)} = ${c.copy.rowsPerSec.toFixed(0)}/s (CPU µs/row ${c.copyCpuUs.toFixed(0)}; ${describeSpan(c.copySpan)}); ingest / COPY ${round.ratio.toFixed(2)}`);
    }
    await baseline.drop();
    const byRatio = [...rounds].sort((a, b) => a.ratio - b.ratio);
    const median = byRatio[Math.floor((byRatio.length - 1) / 2)];
    if (median === undefined) throw new Error('no burst round ran');
    const aUrl = rig.brokers[0]?.url ?? '';
    const scaling: Speed['scaling'] = [];
    for (const k of values['skip-scaling'] ? [] : [1, 2, 4]) {
      for (const w of rig.workers.slice(0, k)) if (!w.running) w.start();
      for (const w of rig.workers.slice(0, k)) await w.ready();
      if (WARM_ACTIONS > 0) await drainRate(rig, WARM_ACTIONS, `scale${k} warm-up`, aUrl);
      const r = await drainRate(rig, BURST, `scale${k}`, aUrl);
      scaling.push({ workers: k, perSec: r.perSec, load: r.load, frozen: r.gatewaysFrozen, cpu: r.cpuUsPerRecord });
      say(`workers ${k} on A: ${r.records} records in ${ms(r.ms)} = ${r.perSec.toFixed(0)}/s (${describeSpan(r.span)})`);
    }
    for (const w of rig.workers.slice(2, 4)) await w.kill('SIGTERM');
    return { rounds, median, scaling };
  } finally {
    rig.setHostPriority(ownNice);
  }
}

/** The figures of burstAndScaling beside their targets: the median round's, and every round's ratio. */
function speedRows(x: Speed, frozen: (f: boolean) => string): Row[] {
  const { median, rounds, scaling } = x;
  const { burst, copy, copyCpuUs, copyLoad } = median;
  const cpuIngest = burst.cpuUsPerRecord.workers + burst.cpuUsPerRecord.postgres + burst.cpuUsPerRecord.brokers;
  const ratios = rounds.map((r) => r.ratio.toFixed(2));
  return [
    { figure: `burst: records/s stored (2 workers, ${frozen(burst.gatewaysFrozen)}; the median round)`, measured: burst.perSec.toFixed(0), target: '—', ok: null, load: burst.load },
    { figure: `raw COPY, that round's ${copy.rows} rows: rows/s`, measured: copy.rowsPerSec.toFixed(0), target: 'the limit', ok: null, load: copyLoad },
    { figure: `ingest / COPY, median of ${rounds.length} interleaved rounds`, measured: median.ratio.toFixed(2), target: '≥ 0.5', ok: median.ratio >= 0.5 },
    { figure: 'ingest / COPY, each round', measured: ratios.join(' '), target: 'context', ok: null },
    { figure: 'CPU µs per record: workers / PostgreSQL / brokers', measured: `${burst.cpuUsPerRecord.workers} / ${burst.cpuUsPerRecord.postgres} / ${burst.cpuUsPerRecord.brokers}`, target: 'context', ok: null, load: burst.load },
    { figure: 'CPU µs per row: COPY (PostgreSQL)', measured: copyCpuUs.toFixed(0), target: 'context', ok: null, load: copyLoad },
    { figure: 'CPU ratio: COPY / ingest (all parts)', measured: (copyCpuUs / Math.max(1, cpuIngest)).toFixed(2), target: 'context: the ratio a machine to itself would give', ok: null },
    { figure: "others' CPU in the median round: ingest / COPY (cores)", measured: `${burst.span.otherCores.toFixed(2)} / ${median.copySpan.otherCores.toFixed(2)}`, target: 'context', ok: null },
    ...scaling.map((s) => ({ figure: `workers ${s.workers} (broker A, ${frozen(s.frozen)}): records/s (CPU µs/record w/pg/broker)`, measured: `${s.perSec.toFixed(0)} (${s.cpu.workers}/${s.cpu.postgres}/${s.cpu.brokers})`, target: s.workers === 1 ? 'scaling' : `× ${(s.perSec / (scaling[0]?.perSec ?? 1)).toFixed(2)} of 1 worker`, ok: null, load: s.load })),
  ];
}

async function main(): Promise<void> {
  say(`fleet: ${N} gateways in ${HOSTS} host processes, brokers A and B bridged, workers 4 on A and 1 on B`);
  const rig = await FleetRig.start({ gateways: N, hosts: HOSTS, workers: [4, 1], partitions: 16, poolSize: POOL_SIZE, maxTxInFlight: TX_IN_FLIGHT, pgStats: values['pg-stats'], mqtt: { healthIntervalSec: 60 } });
  const rows: Row[] = [];
  const facts: Record<string, unknown> = { gateways: N, hosts: HOSTS, outageMs: OUTAGE_MS, dayRate: DAY_RATE, burstActions: BURST, burstOnly: BURST_ONLY, chaosOnly: CHAOS_ONLY, poolSize: POOL_SIZE, txInFlight: TX_IN_FLIGHT ?? 'default', warmActions: WARM_ACTIONS, loadStart: load() };
  try {
    const tc = performance.now();
    await rig.startGateways();
    const connectMs = await rig.waitConnected(5 * 60_000);
    const L: Record<string, string> = { connect: load1() };
    say(`all ${N} connected in ${ms(performance.now() - tc)}`);

    // ---- a day's rate
    let dayPerSec = 0;
    let dayLat: number[] = [];
    if (!BURST_ONLY && !CHAOS_ONLY) {
      await rig.rate(DAY_RATE, 'day');
      const d0 = await rig.storedCount();
      await sleep(DAY_MS);
      dayPerSec = ((await rig.storedCount()) - d0) / (DAY_MS / 1000);
      L.day = load1();
      await rig.rate(0, 'idle');
      await rig.waitDrained(5 * 60_000);
      dayLat = (await rig.stats()).latency.day ?? [];
      say(`day: ${dayPerSec.toFixed(0)} records/s stored, ack p50 ${ms(pct(dayLat, 50))} p99 ${ms(pct(dayLat, 99))}`);
    }

    // ---- burst with 2 workers (1 per broker), then raw COPY of the burst's rows; workers 1 → 2 → 4 on broker A
    const speed = CHAOS_ONLY ? null : await burstAndScaling(rig, say);
    if (speed) L.copy = speed.median.copyLoad;
    const chaos = BURST_ONLY ? null : await runChaos(rig, { dayRate: DAY_RATE, dayMs: DAY_MS, outageMs: OUTAGE_MS }, say);
    await rig.rate(0, 'end');
    await rig.waitDrained(10 * 60_000, 'end drained');
    const problems = await rig.verify();
    L.end = load1();
    const s = await rig.stats();
    const total = s.gateways.reduce((n, g) => n + g.lastSeq, 0);
    const stored = await rig.storedCount();
    say(`verify: ${total} records written, ${stored} stored, ${problems.length} problems`);
    for (const p of problems.slice(0, 20)) say(`  ${p}`);

    const frozen = (f: boolean): string => (f ? 'gateways frozen' : 'gateways running');
    rows.push(
      { figure: `connect ${N} gateways`, measured: ms(connectMs), target: '—', ok: null, load: L.connect },
      ...(BURST_ONLY || CHAOS_ONLY ? [] : [{ figure: 'day rate: records/s stored', measured: dayPerSec.toFixed(0), target: 'keeps up (all acked)', ok: true, load: L.day }]),
      ...(speed ? speedRows(speed, frozen) : []),
      ...(chaos?.rows ?? []),
      { figure: 'broker memory peak (VmHWM)', measured: mb(rig.memory.brokerMaxRss), target: '—', ok: null },
      { figure: 'worker memory peak (VmHWM)', measured: mb(rig.memory.workerMaxRss), target: '—', ok: null },
      { figure: 'gateway host memory peak', measured: `${mb(s.hostsMaxRss)} (${Math.ceil(N / HOSTS)} gateways)`, target: '—', ok: null },
      { figure: 'records exactly once, gap-free, money equal', measured: `${stored}/${total}, ${problems.length} problems`, target: '0 lost, 0 twice', ok: problems.length === 0 && stored === total, load: L.end },
    );
    Object.assign(facts, { loads: L, connectMs, dayPerSec, dayLat: [pct(dayLat, 50), pct(dayLat, 99)], ...(speed ? { rounds: speed.rounds, ratio: speed.median.ratio, scaling: speed.scaling, top: speed.scaling.reduce((m, x) => Math.max(m, x.perSec), 0) } : {}), ...chaos?.facts, memory: rig.memory, hostsMaxRss: s.hostsMaxRss, total, stored, problems: problems.length, loadEnd: load(), minutes: (performance.now() - T0) / 60_000 });
    process.stdout.write(`\n${table(rows)}\n\nload average (1/5/15 min) at the end: ${load()}; ${((performance.now() - T0) / 60_000).toFixed(1)} min in all\n`);
    mkdirSync('test-artifacts', { recursive: true });
    writeFileSync('test-artifacts/fleet.json', `${JSON.stringify(facts, null, 2)}\n`);
    if (problems.length > 0 || stored !== total) process.exitCode = 1;
  } finally {
    await rig.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
