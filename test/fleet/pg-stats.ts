// PostgreSQL's own accounting of a timed span (npm run fleet -- --pg-stats): pg_stat_statements
// (preloaded in the throwaway cluster) per statement of the ingest transaction, and
// pg_stat_database's commits and WAL. So the PostgreSQL CPU per record of the burst can be split
// by statement and the transaction (group) size read, without touching the worker.
import type pg from 'pg';

/** The cluster settings that make pg_stat_statements available. */
export const PG_STATS_SETTINGS = { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' };

export async function enablePgStats(pool: pg.Pool): Promise<void> {
  await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
}

export async function resetPgStats(pool: pg.Pool): Promise<void> {
  await pool.query('SELECT pg_stat_statements_reset()');
}

export interface StatementFigure {
  /** The statement's first words (named ingest statements are recognisable by them). */
  query: string;
  calls: number;
  rows: number;
  /** Total execution time, ms (server side: parse/plan excluded, the COPY's data included). */
  totalMs: number;
}

/** The statements since the last reset, most time first. */
export async function readPgStats(pool: pg.Pool, limit = 12): Promise<StatementFigure[]> {
  const r = await pool.query<{ query: string; calls: string; rows: string; total: number }>(
    `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS query, calls, rows, total_exec_time AS total
     FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT $1`,
    [limit],
  );
  return r.rows.map((x) => ({ query: x.query, calls: Number(x.calls), rows: Number(x.rows), totalMs: x.total }));
}

/** One line per statement: calls, rows per call, µs per call and per record of the span. */
export function describePgStats(stats: readonly StatementFigure[], records: number): string {
  return stats
    .map((s) => `  ${s.query.padEnd(70)} calls ${String(s.calls).padStart(6)}  rows/call ${(s.rows / Math.max(1, s.calls)).toFixed(1).padStart(7)}  µs/call ${((s.totalMs * 1000) / Math.max(1, s.calls)).toFixed(0).padStart(7)}  µs/record ${((s.totalMs * 1000) / Math.max(1, records)).toFixed(1).padStart(6)}`)
    .join('\n');
}
