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
//   workers 1 → 2 → 4: a before/after of the burst alone), --rounds 3 (interleaved rounds of the
//   burst and its raw COPY; the ratio is their median), --compare <another checkout> (the rounds
//   alternate between this checkout's workers and that one's cloud/main.ts: a before/after of
//   the ingest in one run)
// Diagnostics (environment): FLEET_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" (the
// workers' node flags), FLEET_WORKER_LOG=debug (each commit logged with its size and time),
// FLEET_WORKER_LOG_FILE=/tmp/w (the workers' logs also to /tmp/w.<worker name>).
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { load, load1, mb, ms, pct, table, type Row } from './figures.js';
import { runChaos } from './chaos.js';
import { FleetRig } from './rig.js';
import { burstAndScaling, speedRows } from './speed.js';

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
    compare: { type: 'string' },
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
    const speed = CHAOS_ONLY ? null : await burstAndScaling(rig, { burst: BURST, warmActions: WARM_ACTIONS, rounds: ROUNDS, skipScaling: values['skip-scaling'], compare: values.compare === undefined ? undefined : resolve(values.compare, 'cloud/main.ts'), say });
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
    Object.assign(facts, { loads: L, connectMs, dayPerSec, dayLat: [pct(dayLat, 50), pct(dayLat, 99)], ...(speed ? { rounds: speed.rounds, ratio: speed.median.ratio, otherRatio: speed.otherMedian?.ratio ?? null, scaling: speed.scaling, top: speed.scaling.reduce((m, x) => Math.max(m, x.perSec), 0) } : {}), ...chaos?.facts, memory: rig.memory, hostsMaxRss: s.hostsMaxRss, total, stored, problems: problems.length, loadEnd: load(), minutes: (performance.now() - T0) / 60_000 });
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
