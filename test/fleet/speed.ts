// The speed half of npm run fleet: the burst's ingest rate against a raw COPY of the same rows,
// in interleaved rounds (the ratio their median), and workers 1 → 2 → 4. With `compare`, the
// rounds alternate between this checkout's workers and another checkout's (cloud/main.ts of
// each, restarted and warmed before its round): a before/after of the ingest code measured in
// one run, each side in the same minutes' conditions.
import { getPriority } from 'node:os';
import { CopyBaseline, type CopyFigures } from './copy-baseline.js';
import { cpuMs, postgresCpuMs, postgresCpuSplitMs } from './cpu.js';
import { load1, ms, type Row } from './figures.js';
import { describePgStats } from './pg-stats.js';
import type { FleetRig } from './rig.js';
import { describeSpan, machineCpu, pgCounters, spanStats, type SpanStats } from './span-stats.js';

export interface SpeedOptions {
  /** Actions per gateway of each timed burst. */
  burst: number;
  /** Actions per gateway of the untimed drain before the timed ones (0: none). */
  warmActions: number;
  rounds: number;
  skipScaling: boolean;
  /** Another checkout's cloud/main.ts: the rounds alternate between its workers and this one's. */
  compare?: string;
  say: (s: string) => void;
}

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
async function drainRate(rig: FleetRig, actions: number, phase: string, say: (s: string) => void, onlyUrl?: string): Promise<Drain> {
  const pids = { workers: rig.workers.map((w) => w.pid), brokers: rig.brokers.map((b) => b.pid) };
  const parts = (): PartsCpu => ({ workers: cpuMs(pids.workers), postgres: postgresCpuMs(rig.postgres.dataDir), brokers: cpuMs(pids.brokers) });
  let cpu0 = rigCpuMs(rig, parts);
  let bg0 = 0;
  let m0 = machineCpu();
  let p0 = await pgCounters(rig.pool);
  const r = await rig.frozenDrain(actions, phase, onlyUrl, {
    settle: async () => {
      await rig.settlePostgres();
      p0 = await pgCounters(rig.pool);
    },
    onStart: () => {
      cpu0 = rigCpuMs(rig, parts);
      bg0 = postgresCpuSplitMs(rig.postgres.dataDir).background;
      m0 = machineCpu();
    },
  });
  const cpu1 = rigCpuMs(rig, parts);
  const bg1 = postgresCpuSplitMs(rig.postgres.dataDir).background;
  const m1 = machineCpu();
  const p1 = await pgCounters(rig.pool);
  if (r.pgStats) say(`${phase}: PostgreSQL per statement over the drain (${r.records} records):\n${describePgStats(r.pgStats, r.records)}`);
  const loadAt = load1();
  const per = (k: keyof PartsCpu): number => Math.round(((cpu1.parts[k] - cpu0.parts[k]) * 1000) / Math.max(1, r.records));
  const cpu = { workers: per('workers'), postgres: per('postgres'), brokers: per('brokers') };
  const span = spanStats(m0, m1, cpu1.all - cpu0.all, p0, p1, bg1 - bg0);
  // Acks applied by every gateway before the next step.
  await rig.waitDrained(10 * 60_000, `${phase} acked`);
  return { records: r.records, ms: r.ms, perSec: r.records / (r.ms / 1000), gatewaysFrozen: r.gatewaysFrozen, load: loadAt, cpuUsPerRecord: cpu, thawedAtMs: r.thawedAtMs, span };
}

interface Round {
  /** Whose workers ran it: 'this' checkout's, or the 'other' one's (compare). */
  variant: 'this' | 'other';
  burst: Drain;
  copy: CopyFigures;
  copyCpuUs: number;
  copySpan: SpanStats;
  copyLoad: string;
  ratio: number;
}

export interface Speed {
  rounds: Round[];
  /** Per variant, the round whose ratio is the median (the figures printed beside the targets). */
  median: Round;
  otherMedian: Round | null;
  scaling: { workers: number; perSec: number; load: string; frozen: boolean; cpu: PartsCpu }[];
}

/** A timed raw COPY of a drain's rows, PostgreSQL settled first, with what else ran meanwhile. */
async function copyRound(rig: FleetRig, baseline: CopyBaseline, burst: Drain): Promise<Omit<Round, 'variant' | 'burst' | 'ratio'>> {
  let cpu0 = 0;
  let bg0 = 0;
  let m0 = machineCpu();
  let p0 = await pgCounters(rig.pool);
  const pgCpu = (): number => postgresCpuMs(rig.postgres.dataDir);
  const copy = await baseline.timed(
    burst.thawedAtMs,
    async () => {
      await rig.settlePostgres();
      p0 = await pgCounters(rig.pool);
      cpu0 = rigCpuMs(rig).all;
      bg0 = postgresCpuSplitMs(rig.postgres.dataDir).background;
      m0 = machineCpu();
    },
    pgCpu,
  );
  const m1 = machineCpu();
  const cpu1 = rigCpuMs(rig).all;
  const bg1 = postgresCpuSplitMs(rig.postgres.dataDir).background;
  const p1 = await pgCounters(rig.pool);
  return { copy, copyCpuUs: (copy.cpuMs * 1000) / Math.max(1, copy.rows), copySpan: spanStats(m0, m1, cpu1 - cpu0, p0, p1, bg1 - bg0), copyLoad: load1() };
}

/** The round with the median ratio (of an even count, the lower middle one). */
function medianRound(rounds: readonly Round[]): Round | null {
  const byRatio = [...rounds].sort((x, y) => x.ratio - y.ratio);
  return byRatio[Math.floor((byRatio.length - 1) / 2)] ?? null;
}

/** The first worker of each broker restarted from this checkout's cloud/main.ts or the other's. */
async function switchWorkers(rig: FleetRig, cloudMain: string): Promise<void> {
  const first = rig.workers.filter((w) => w.running);
  for (const w of first) {
    await w.kill('SIGTERM');
    w.cloudMain = cloudMain;
    w.start();
  }
  for (const w of first) await w.ready();
}

/**
 * `rounds` interleaved rounds of the burst (2 workers) and a raw COPY of its rows, the ratio the
 * median of the rounds' (one round's figure moves with whatever else ran in its second or two);
 * with `compare`, the rounds alternate between this checkout's workers and the other's, each
 * side restarted and warmed before its round. Then workers 1 → 2 → 4 on broker A (its gateways
 * only). The gateway hosts run at nice 19 meanwhile: here they are the harness.
 */
export async function burstAndScaling(rig: FleetRig, o: SpeedOptions): Promise<Speed> {
  const { say } = o;
  const ownNice = getPriority();
  const ownMain = rig.workers[0]?.cloudMain ?? '';
  rig.setHostPriority(19);
  try {
    if (o.warmActions > 0 && o.compare === undefined) await drainRate(rig, o.warmActions, 'burst warm-up', say);
    const baseline = await CopyBaseline.create(rig.pool, 16);
    const rounds: Round[] = [];
    for (let i = 1; i <= o.rounds; i++) {
      const variant = o.compare !== undefined && i % 2 === 0 ? 'other' : 'this';
      if (o.compare !== undefined) {
        await switchWorkers(rig, variant === 'other' ? o.compare : ownMain);
        if (o.warmActions > 0) await drainRate(rig, o.warmActions, `burst ${i} warm-up (${variant})`, say);
      }
      const burst = await drainRate(rig, o.burst, `burst ${i}`, say);
      const c = await copyRound(rig, baseline, burst);
      const round: Round = { variant, burst, ...c, ratio: burst.perSec / c.copy.rowsPerSec };
      rounds.push(round);
      const tag = o.compare === undefined ? '' : ` (${variant})`;
      say(`round ${i}${tag}: ingest ${burst.records} records in ${ms(burst.ms)} = ${burst.perSec.toFixed(0)}/s (CPU µs/record w/pg/br ${burst.cpuUsPerRecord.workers}/${burst.cpuUsPerRecord.postgres}/${burst.cpuUsPerRecord.brokers}; ${describeSpan(burst.span)})`);
      say(`round ${i}${tag}: COPY ${c.copy.rows} rows in ${ms(c.copy.ms)} = ${c.copy.rowsPerSec.toFixed(0)}/s (CPU µs/row ${c.copyCpuUs.toFixed(0)}; ${describeSpan(c.copySpan)}); ingest / COPY ${round.ratio.toFixed(2)}`);
    }
    await baseline.drop();
    if (o.compare !== undefined) await switchWorkers(rig, ownMain);
    const median = medianRound(rounds.filter((r) => r.variant === 'this'));
    if (median === null) throw new Error('no burst round ran');
    const otherMedian = medianRound(rounds.filter((r) => r.variant === 'other'));
    const aUrl = rig.brokers[0]?.url ?? '';
    const scaling: Speed['scaling'] = [];
    for (const k of o.skipScaling ? [] : [1, 2, 4]) {
      for (const w of rig.workers.slice(0, k)) if (!w.running) w.start();
      for (const w of rig.workers.slice(0, k)) await w.ready();
      if (o.warmActions > 0) await drainRate(rig, o.warmActions, `scale${k} warm-up`, say, aUrl);
      const r = await drainRate(rig, o.burst, `scale${k}`, say, aUrl);
      scaling.push({ workers: k, perSec: r.perSec, load: r.load, frozen: r.gatewaysFrozen, cpu: r.cpuUsPerRecord });
      say(`workers ${k} on A: ${r.records} records in ${ms(r.ms)} = ${r.perSec.toFixed(0)}/s (${describeSpan(r.span)})`);
    }
    for (const w of rig.workers.slice(2, 4)) await w.kill('SIGTERM');
    return { rounds, median, otherMedian, scaling };
  } finally {
    rig.setHostPriority(ownNice);
  }
}

/** The figures of burstAndScaling beside their targets: the median round's, and every round's ratio. */
export function speedRows(x: Speed, frozen: (f: boolean) => string): Row[] {
  const { median, otherMedian, rounds, scaling } = x;
  const { burst, copy, copyCpuUs, copyLoad } = median;
  const cpuIngest = burst.cpuUsPerRecord.workers + burst.cpuUsPerRecord.postgres + burst.cpuUsPerRecord.brokers;
  const mine = rounds.filter((r) => r.variant === 'this');
  const theirs = rounds.filter((r) => r.variant === 'other');
  const cpu = (r: Round): string => `${r.burst.cpuUsPerRecord.workers} / ${r.burst.cpuUsPerRecord.postgres} / ${r.burst.cpuUsPerRecord.brokers}`;
  return [
    { figure: `burst: records/s stored (2 workers, ${frozen(burst.gatewaysFrozen)}; the median round)`, measured: burst.perSec.toFixed(0), target: '—', ok: null, load: burst.load },
    { figure: `raw COPY, that round's ${copy.rows} rows: rows/s`, measured: copy.rowsPerSec.toFixed(0), target: 'the limit', ok: null, load: copyLoad },
    { figure: `ingest / COPY, median of ${mine.length} interleaved rounds`, measured: median.ratio.toFixed(2), target: '≥ 0.5', ok: median.ratio >= 0.5 },
    { figure: 'ingest / COPY, each round', measured: mine.map((r) => r.ratio.toFixed(2)).join(' '), target: 'context', ok: null },
    { figure: 'CPU µs per record: workers / PostgreSQL / brokers', measured: cpu(median), target: 'context', ok: null, load: burst.load },
    { figure: 'CPU µs per row: COPY (PostgreSQL)', measured: copyCpuUs.toFixed(0), target: 'context', ok: null, load: copyLoad },
    { figure: 'CPU ratio: COPY / ingest (all parts)', measured: (copyCpuUs / Math.max(1, cpuIngest)).toFixed(2), target: 'context: the ratio a machine to itself would give', ok: null },
    { figure: "others' CPU in the median round: ingest / COPY (cores)", measured: `${burst.span.otherCores.toFixed(2)} / ${median.copySpan.otherCores.toFixed(2)}`, target: 'context', ok: null },
    ...(otherMedian === null
      ? []
      : [
          { figure: `the other checkout: ingest / COPY, median of ${theirs.length} rounds (each)`, measured: `${otherMedian.ratio.toFixed(2)} (${theirs.map((r) => r.ratio.toFixed(2)).join(' ')})`, target: 'compare', ok: null },
          { figure: 'the other checkout: CPU µs per record w / pg / br (median round)', measured: cpu(otherMedian), target: 'compare', ok: null, load: otherMedian.burst.load },
        ]),
    ...scaling.map((s) => ({ figure: `workers ${s.workers} (broker A, ${frozen(s.frozen)}): records/s (CPU µs/record w/pg/broker)`, measured: `${s.perSec.toFixed(0)} (${s.cpu.workers}/${s.cpu.postgres}/${s.cpu.brokers})`, target: s.workers === 1 ? 'scaling' : `× ${(s.perSec / (scaling[0]?.perSec ?? 1)).toFixed(2)} of 1 worker`, ok: null, load: s.load })),
  ];
}
