// The ingest's PostgreSQL schema, created idempotently under an advisory lock (several workers
// may start at once). records is hash-partitioned by gateway: one gateway's stream lives in one
// partition, its primary key (gateway_id, seq) is the dedupe, and partitions keep each index
// small enough to stay in memory as the fleet grows.
import type { Pool } from 'pg';

/** Any fixed number: the advisory lock that serialises schema creation between workers. */
const SCHEMA_LOCK = 0x6c61756e;

export function schemaSql(partitions: number): string[] {
  const parts = (table: string): string[] =>
    Array.from({ length: partitions }, (_, i) => `CREATE TABLE IF NOT EXISTS ${table}_p${i} PARTITION OF ${table} FOR VALUES WITH (MODULUS ${partitions}, REMAINDER ${i})`);
  return [
    // One row per gateway: the stream watermark and the out-of-stream segments. Its row lock
    // serialises every ingest transaction of that gateway, so nothing else writes this row.
    `CREATE TABLE IF NOT EXISTS gateways (
      gateway_id text PRIMARY KEY,
      stored_seq bigint NOT NULL DEFAULT 0,
      segments jsonb NOT NULL DEFAULT '[]',
      updated_at timestamptz NOT NULL DEFAULT now())`,
    // The newest chain heads stored for the gateway (what each ack carries back), moved under the
    // same row lock as the watermark. ADD COLUMN: a schema from before the heads gains them.
    ...['audit', 'money'].flatMap((c) => [
      `ALTER TABLE gateways ADD COLUMN IF NOT EXISTS ${c}_seq bigint`,
      `ALTER TABLE gateways ADD COLUMN IF NOT EXISTS ${c}_hash text`,
    ]),
    // When this gateway's heads last went into gateway_heads (thinned to one per ingest.headsEveryMs).
    `ALTER TABLE gateways ADD COLUMN IF NOT EXISTS heads_kept_at timestamptz`,
    // What each gateway last said about itself, apart from the stream row: a status or health
    // upsert never waits for an ingest transaction's row lock (nor holds a connection meanwhile).
    `CREATE TABLE IF NOT EXISTS gateway_status (
      gateway_id text PRIMARY KEY,
      online boolean,
      status_at timestamptz,
      config_version bigint,
      health jsonb,
      health_at timestamptz)`,
    `CREATE TABLE IF NOT EXISTS records (
      gateway_id text NOT NULL,
      seq bigint NOT NULL,
      id text NOT NULL,
      type text NOT NULL,
      money boolean NOT NULL,
      created_ms bigint NOT NULL,
      payload jsonb NOT NULL,
      -- null: the payload passed its type's schema; else why not (stored all the same: money is never dropped)
      problem text,
      received_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (gateway_id, seq)) PARTITION BY HASH (gateway_id)`,
    ...parts('records'),
    // Every chain head a stored batch carried, kept once: the anchors a room's rewritten ledger
    // is proved against (docs/cloud.md). The first hash kept at a (chain, seq) stays.
    `CREATE TABLE IF NOT EXISTS gateway_heads (
      gateway_id text NOT NULL,
      chain text NOT NULL CHECK (chain IN ('audit', 'money')),
      seq bigint NOT NULL,
      hash text NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (gateway_id, chain, seq)) PARTITION BY HASH (gateway_id)`,
    ...parts('gateway_heads'),
    `CREATE TABLE IF NOT EXISTS machine_states (
      gateway_id text NOT NULL,
      machine_id text NOT NULL,
      snapshot jsonb NOT NULL,
      observed_ms bigint NOT NULL,
      PRIMARY KEY (gateway_id, machine_id))`,
    `CREATE TABLE IF NOT EXISTS gateway_events (
      gateway_id text NOT NULL,
      kind text NOT NULL,
      payload jsonb NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now())`,
  ];
}

export async function migrate(pool: Pool, partitions: number): Promise<void> {
  const c = await pool.connect();
  // Between queries a lost server is an 'error' event (fatal unheard); the next query rejects with it.
  const lost = (): void => undefined;
  c.on('error', lost);
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    for (const sql of schemaSql(partitions)) await c.query(sql);
    await c.query('COMMIT');
  } catch (e) {
    // The first error is the one to report; a failed ROLLBACK only means the connection is gone.
    await c.query("ROLLBACK").catch(() => undefined);
    throw e;
  } finally {
    c.off('error', lost);
    c.release();
  }
}
