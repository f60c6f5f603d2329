// The honest limit for the ingest rate: the same rows, on the same PostgreSQL, written by a raw
// COPY (pg-copy-streams) into a table of the same shape (hash-partitioned, same primary key,
// jsonb payload). No MQTT, no parsing, no locks, no watermark: just PostgreSQL taking rows.
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { schemaSql } from '../../cloud/schema.js';

const COLS = 'gateway_id, seq, id, type, money, created_ms, payload, problem';

/**
 * Copies the records stored since `sinceMs` (wall clock; 0: all) out (text format), then times
 * COPY of those rows into records_copy: the timed drain's own rows, not what earlier steps stored
 * (a larger COPY spreads its fixed costs thinner: not the same rows). `cpu`, when given, is read
 * around the timed COPY only: cpuMs is the CPU it took (PostgreSQL's).
 */
export async function copyBaseline(pool: pg.Pool, partitions: number, cpu: () => number = () => 0, sinceMs = 0): Promise<{ rows: number; ms: number; rowsPerSec: number; cpuMs: number }> {
  const c = await pool.connect();
  try {
    await c.query('DROP TABLE IF EXISTS records_copy');
    for (const sql of schemaSql(partitions).filter((q) => /\brecords\b/.test(q))) {
      await c.query(sql.replace(/\brecords(_p\d+)?\b/g, (_m, p: string | undefined) => `records_copy${p ?? ''}`));
    }
    const chunks: Buffer[] = [];
    // received_at is the storing transaction's start: every transaction of the drain began after the thaw.
    const since = `to_timestamp(${Math.floor(Number(sinceMs))} / 1000.0)`;
    await pipeline(c.query(copyTo(`COPY (SELECT ${COLS} FROM records WHERE received_at >= ${since}) TO STDOUT`)), new Writable({ write: (chunk: Buffer, _e, cb) => (chunks.push(chunk), cb()) }));
    const rows = chunks.reduce((n, b) => n + countLines(b), 0);
    const cpu0 = cpu();
    const t0 = performance.now();
    await pipeline(Readable.from(chunks), c.query(copyFrom(`COPY records_copy (${COLS}) FROM STDIN`)));
    const ms = performance.now() - t0;
    const cpuMs = cpu() - cpu0;
    await c.query('DROP TABLE records_copy');
    return { rows, ms, rowsPerSec: rows / (ms / 1000), cpuMs };
  } finally {
    c.release();
  }
}

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
}
