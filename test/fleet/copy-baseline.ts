// The honest limit for the ingest rate: the same rows, on the same PostgreSQL, written by a raw
// COPY (pg-copy-streams) into a table of the same shape (hash-partitioned, same primary key,
// jsonb payload). No MQTT, no parsing, no locks, no watermark: just PostgreSQL taking rows.
//
// The copy table mirrors `records` across the rounds of a run: before a timed COPY, whatever
// `records` got since the last one (the warm-up drain) is copied in untimed, so each timed COPY
// goes into a table as full as the one its ingest round went into (an empty table's first
// pages and index levels are cheaper than a grown one's).
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { schemaSql } from '../../cloud/schema.js';

const COLS = 'gateway_id, seq, id, type, money, created_ms, payload, problem';

export interface CopyFigures {
  rows: number;
  ms: number;
  rowsPerSec: number;
  /** CPU ms over the timed COPY of the process group `cpu` reads (PostgreSQL's). */
  cpuMs: number;
}

export class CopyBaseline {
  /** Wall-clock ms up to which records are in the copy table (rows received before it). */
  private copiedUntilMs = 0;

  private constructor(private readonly pool: pg.Pool) {}

  /** records_copy created afresh, its partitions as records'. */
  static async create(pool: pg.Pool, partitions: number): Promise<CopyBaseline> {
    await pool.query('DROP TABLE IF EXISTS records_copy');
    for (const sql of schemaSql(partitions).filter((q) => /\brecords\b/.test(q))) {
      await pool.query(sql.replace(/\brecords(_p\d+)?\b/g, (_m, p: string | undefined) => `records_copy${p ?? ''}`));
    }
    return new CopyBaseline(pool);
  }

  /**
   * Times COPY of the records received since `sinceMs` (wall clock: the timed drain's thaw),
   * after copying untimed what came before it and is not in the table yet. `settle` runs just
   * before the timed COPY (a checkpoint: the ingest round got one too), `cpu` around it only.
   */
  async timed(sinceMs: number, settle: () => Promise<void>, cpu: () => number): Promise<CopyFigures> {
    const c = await this.pool.connect();
    try {
      const at = (ms: number): string => `to_timestamp(${Math.floor(Number(ms))} / 1000.0)`;
      // received_at is the storing transaction's start: every transaction of the drain began after the thaw.
      await c.query(`INSERT INTO records_copy (${COLS}) SELECT ${COLS} FROM records WHERE received_at >= ${at(this.copiedUntilMs)} AND received_at < ${at(sinceMs)}`);
      const chunks: Buffer[] = [];
      await pipeline(c.query(copyTo(`COPY (SELECT ${COLS} FROM records WHERE received_at >= ${at(sinceMs)}) TO STDOUT`)), new Writable({ write: (chunk: Buffer, _e, cb) => (chunks.push(chunk), cb()) }));
      const rows = chunks.reduce((n, b) => n + countLines(b), 0);
      this.copiedUntilMs = Date.now();
      await settle();
      const cpu0 = cpu();
      const t0 = performance.now();
      await pipeline(Readable.from(chunks), c.query(copyFrom(`COPY records_copy (${COLS}) FROM STDIN`)));
      const ms = performance.now() - t0;
      const cpuMs = cpu() - cpu0;
      return { rows, ms, rowsPerSec: rows / (ms / 1000), cpuMs };
    } finally {
      c.release();
    }
  }

  async drop(): Promise<void> {
    await this.pool.query('DROP TABLE IF EXISTS records_copy');
  }
}

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
}
