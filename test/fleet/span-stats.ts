// What else happened during a timed span of `npm run fleet`, so a round whose figure moved can
// say why: the machine's CPU beyond the rig's own processes (the other engineers' work, the
// hypervisor's steal, the time the cores sat waiting for a disk), and PostgreSQL's checkpoints,
// autovacuum runs and WAL bytes. (pg_stat_wal's fsync counts and pg_stat_database's commits are
// left out: a backend flushes them up to 10 s after the fact, not within a 1-second span.)
import { readFileSync } from 'node:fs';
import type pg from 'pg';

const TICK_MS = 10; // USER_HZ

/** The machine's CPU so far, ms summed over its cores, from /proc/stat's first line. */
export interface MachineCpu {
  busyMs: number;
  stealMs: number;
  iowaitMs: number;
  atMs: number;
}

export function machineCpu(): MachineCpu {
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  return { busyMs: (user + nice + system + irq + softirq) * TICK_MS, stealMs: steal * TICK_MS, iowaitMs: iowait * TICK_MS, atMs: performance.now() };
}

/** PostgreSQL's counters that explain a slow span (cluster-wide). */
export interface PgCounters {
  checkpoints: number;
  /** Autovacuum and autoanalyze runs finished, plus those running now (a run across the span counts). */
  autovacuums: number;
  walBytes: number;
}

export async function pgCounters(pool: pg.Pool): Promise<PgCounters> {
  const r = await pool.query<{ ck: string; av: string; running: string; lsn: string }>(
    `SELECT (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter) AS ck,
       (SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_all_tables) AS av,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker') AS running,
       pg_current_wal_lsn() - '0/0'::pg_lsn AS lsn`,
  );
  const x = r.rows[0];
  if (x === undefined) throw new Error('no PostgreSQL statistics');
  return { checkpoints: Number(x.ck), autovacuums: Number(x.av) + Number(x.running), walBytes: Number(x.lsn) };
}

export interface SpanStats {
  ms: number;
  /** CPU ms of PostgreSQL's processes that are not client backends (checkpointer, writers, autovacuum, postmaster). */
  pgBackgroundMs: number;
  /** CPU of processes that are not the rig's, in cores over the span (the others' work). */
  otherCores: number;
  /** Cores taken by the hypervisor (steal) over the span. */
  stealCores: number;
  /** Cores idle waiting for a disk over the span. */
  iowaitCores: number;
  pg: PgCounters;
}

/**
 * A span's figures from two snapshots: `oursMs` is the CPU the rig's own processes (workers,
 * PostgreSQL, brokers, gateway hosts, the rig itself) spent over it; the rest of the machine's
 * busy time is someone else's.
 */
export function spanStats(m0: MachineCpu, m1: MachineCpu, oursMs: number, p0: PgCounters, p1: PgCounters, pgBackgroundMs: number): SpanStats {
  const ms = Math.max(1, m1.atMs - m0.atMs);
  const d = (k: keyof PgCounters): number => p1[k] - p0[k];
  return {
    ms,
    pgBackgroundMs,
    otherCores: Math.max(0, m1.busyMs - m0.busyMs - oursMs) / ms,
    stealCores: (m1.stealMs - m0.stealMs) / ms,
    iowaitCores: (m1.iowaitMs - m0.iowaitMs) / ms,
    pg: { checkpoints: d('checkpoints'), autovacuums: d('autovacuums'), walBytes: d('walBytes') },
  };
}

/** One line: others' cores, steal, iowait, checkpoints, autovacuums, WAL, PostgreSQL's upkeep. */
export function describeSpan(s: SpanStats): string {
  return `pg upkeep ${s.pgBackgroundMs} ms, others ${s.otherCores.toFixed(2)} cores, steal ${s.stealCores.toFixed(2)}, iowait ${s.iowaitCores.toFixed(2)}, ckpt ${s.pg.checkpoints}, autovac ${s.pg.autovacuums}, WAL ${(s.pg.walBytes / 1e6).toFixed(1)} MB`;
}
