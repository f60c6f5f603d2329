// The ingest transaction: a group of batches (of any gateways) stored in one commit. Each
// gateway's row is locked first, in gateway order (so two workers never deadlock), then its
// records go in with ON CONFLICT DO NOTHING (the (gateway, seq) dedupe), then its stream state
// moves as planStream says, and the chain heads the batches carried are kept (the newest of each
// chain on the gateway's row, under the same lock; older ones thinned, heads.ts). The acks, with those newest heads, are
// returned only after COMMIT: the caller publishes them. Every statement is named (prepared once
// per connection: PostgreSQL parses and analyses it once, not in every transaction).
import { inTransaction } from './pg-transaction.js';
import type { Pool, PoolClient } from 'pg';
import { copyRecords, splitNew, type StoredState } from './copy-records.js';
import { KnownGateways } from './known-gateways.js';
import { headRows, mergeHeads, pickHeads, rowConflicts, type ChainHead, type GatewayHeads, type HeadPick, type HeadRow } from './heads.js';
import { recordRows, type IngestBatch, type RecordRow } from './rows.js';
import { planStream, type Segment } from './stream.js';

export { ingestRows, type IngestBatch, type IngestRows, type RecordRow } from './rows.js';

export interface IngestAck {
  roomId: string;
  gatewayId: string;
  upToSeq: number;
  /** The newest heads stored for the gateway (this transaction's included). */
  auditHead?: ChainHead;
  moneyHead?: ChainHead;
}

/** A head received at a (gateway, chain, seq) already kept with another hash: a rewritten history. */
export interface HeadConflict extends HeadRow {
  storedHash: string;
}

export interface IngestResult {
  acks: IngestAck[];
  /** Rows inserted (new records). */
  stored: number;
  /** Records received that were already stored (resends). */
  duplicates: number;
  outOfStream: number;
  headConflicts: HeadConflict[];
  /** Transactions stored again without COPY (a record COPY would have stored twice). */
  copyFallbacks: number;
}

interface GatewayRow {
  gateway_id: string;
  stored_seq: string;
  segments: unknown;
  audit_seq: string | null;
  audit_hash: string | null;
  money_seq: string | null;
  money_hash: string | null;
  /** No head of this gateway kept in gateway_heads within the last headsEveryMs. */
  heads_due: boolean;
}

const headOf = (seq: string | null, hash: string | null): ChainHead | undefined => (seq === null || hash === null ? undefined : { seq: Number(seq), hash });
const keptHeads = (r: GatewayRow): GatewayHeads => {
  const audit = headOf(r.audit_seq, r.audit_hash);
  const money = headOf(r.money_seq, r.money_hash);
  return { ...(audit ? { audit } : {}), ...(money ? { money } : {}) };
};

const segmentsOf = (raw: unknown): Segment[] => (Array.isArray(raw) ? (raw as Segment[]) : []);

/** How the records go in: COPY for those the stream state proves new (copy-records.ts), or all by INSERT … ON CONFLICT. */
export type RecordWrite = 'copy' | 'insert';

/** PostgreSQL's unique_violation: a COPY met a record already stored. */
const UNIQUE_VIOLATION = '23505';

/**
 * Stores a group of batches in one transaction and returns the acks to publish. With 'copy', a
 * COPY refused by the primary key (a record the stream state did not know was stored) rolls
 * back and the group is stored again by INSERT … ON CONFLICT DO NOTHING.
 */
export async function ingest(pool: Pool, batches: readonly IngestBatch[], maxSegments: number, write: RecordWrite = 'copy', headsEveryMs = 0, known: KnownGateways = new KnownGateways()): Promise<IngestResult> {
  if (write === 'insert') return ingestOnce(pool, batches, maxSegments, 'insert', headsEveryMs, known);
  try {
    return await ingestOnce(pool, batches, maxSegments, 'copy', headsEveryMs, known);
  } catch (e) {
    if ((e as { code?: unknown }).code !== UNIQUE_VIOLATION) throw e;
    const r = await ingestOnce(pool, batches, maxSegments, 'insert', headsEveryMs, known);
    return { ...r, copyFallbacks: 1 };
  }
}

/** The gateways' rows created where missing (ON CONFLICT DO NOTHING: another transaction may create them too). */
async function insertGateways(c: PoolClient, ids: readonly string[]): Promise<void> {
  await c.query({
    name: 'ingest-gateways',
    text: 'INSERT INTO gateways (gateway_id) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT (gateway_id) DO NOTHING',
    values: [ids],
  });
}

/** The gateways' rows locked, in gateway order (two workers never deadlock), with their stream state and heads. */
async function lockGateways(c: PoolClient, ids: readonly string[], headsEveryMs: number): Promise<GatewayRow[]> {
  const r = await c.query<GatewayRow>({
    name: 'ingest-lock',
    text: `SELECT gateway_id, stored_seq, segments, audit_seq, audit_hash, money_seq, money_hash,
       heads_kept_at IS NULL OR heads_kept_at <= now() - $2 * interval '1 millisecond' AS heads_due
     FROM gateways WHERE gateway_id = ANY($1::text[]) ORDER BY gateway_id FOR UPDATE`,
    values: [ids, headsEveryMs],
  });
  return r.rows;
}

async function ingestOnce(pool: Pool, batches: readonly IngestBatch[], maxSegments: number, write: RecordWrite, headsEveryMs: number, known: KnownGateways): Promise<IngestResult> {
  const byGateway = new Map<string, IngestBatch[]>();
  for (const b of batches) {
    const list = byGateway.get(b.gatewayId);
    if (list) list.push(b);
    else byGateway.set(b.gatewayId, [b]);
  }
  const ids = [...byGateway.keys()].sort();
  const result = await inTransaction(pool, async (c) => {
    const unknown = known.unknown(ids);
    if (unknown.length > 0) await insertGateways(c, unknown);
    let rows = await lockGateways(c, ids, headsEveryMs);
    if (rows.length < ids.length) {
      // A row this worker knew is gone (deleted by hand): created again, then every row locked.
      const found = new Set(rows.map((r) => r.gateway_id));
      const gone = ids.filter((id) => !found.has(id));
      known.forget(gone);
      await insertGateways(c, gone);
      rows = await lockGateways(c, ids, headsEveryMs);
    }
    const locked = { rows };
    let stored: number;
    if (write === 'copy') {
      const state = new Map<string, StoredState>(locked.rows.map((r) => [r.gateway_id, { storedSeq: Number(r.stored_seq), segments: segmentsOf(r.segments) }]));
      const split = splitNew(batches, state);
      stored = (await copyRecords(c, 'records', split.fresh)) + (await insertRecords(c, split.maybeStored));
    } else stored = await insertRecords(c, batches);
    const picks: HeadPick[] = [];
    const rowHeadConflicts: HeadConflict[] = [];
    const headsKept = new Set<string>();
    for (const row of locked.rows) {
      const heads = headRows(byGateway.get(row.gateway_id) ?? []);
      const pick = pickHeads(heads, row.heads_due, headsEveryMs);
      if (pick.some((h) => h.keep)) headsKept.add(row.gateway_id);
      picks.push(...pick);
      rowHeadConflicts.push(...rowConflicts(keptHeads(row), heads));
    }
    const headConflicts = dedupeConflicts([...(await keepHeads(c, picks)), ...rowHeadConflicts]);
    const received = batches.reduce((n, b) => n + b.rows.seq.length, 0);
    const acks: IngestAck[] = [];
    const upd = { kept: [] as boolean[], ids: [] as string[], seqs: [] as number[], segs: [] as string[], aSeq: [] as (number | null)[], aHash: [] as (string | null)[], mSeq: [] as (number | null)[], mHash: [] as (string | null)[] };
    let outOfStream = 0;
    for (const row of locked.rows) {
      const list = byGateway.get(row.gateway_id) ?? [];
      const before = { storedSeq: Number(row.stored_seq), segments: segmentsOf(row.segments) };
      const plan = planStream(before, list, maxSegments);
      const heads = mergeHeads(keptHeads(row), list);
      outOfStream += plan.outOfStream;
      upd.ids.push(row.gateway_id);
      upd.kept.push(headsKept.has(row.gateway_id));
      upd.seqs.push(plan.next.storedSeq);
      upd.segs.push(JSON.stringify(plan.next.segments));
      upd.aSeq.push(heads.audit?.seq ?? null);
      upd.aHash.push(heads.audit?.hash ?? null);
      upd.mSeq.push(heads.money?.seq ?? null);
      upd.mHash.push(heads.money?.hash ?? null);
      const last = list[list.length - 1];
      if (plan.ackUpTo !== null && last !== undefined) {
        acks.push({ roomId: last.roomId, gatewayId: row.gateway_id, upToSeq: plan.ackUpTo, ...(heads.audit ? { auditHead: heads.audit } : {}), ...(heads.money ? { moneyHead: heads.money } : {}) });
      }
    }
    // updated_at: when the watermark moved, the last statement before COMMIT (clock_timestamp(),
    // not now(), which is the transaction's start): what a monitor or the fleet rig's timed drain reads.
    await c.query({
      name: 'ingest-stream',
      text: `UPDATE gateways g SET stored_seq = u.seq, segments = u.segs, updated_at = clock_timestamp(),
         audit_seq = u.a_seq, audit_hash = u.a_hash, money_seq = u.m_seq, money_hash = u.m_hash,
         heads_kept_at = CASE WHEN u.kept THEN now() ELSE g.heads_kept_at END
       FROM unnest($1::text[], $2::bigint[], $3::jsonb[], $4::bigint[], $5::text[], $6::bigint[], $7::text[], $8::boolean[]) AS u(id, seq, segs, a_seq, a_hash, m_seq, m_hash, kept)
       WHERE g.gateway_id = u.id`,
      values: [upd.ids, upd.seqs, upd.segs, upd.aSeq, upd.aHash, upd.mSeq, upd.mHash, upd.kept],
    });
    return { acks, stored, duplicates: received - stored, outOfStream, headConflicts, copyFallbacks: 0 };
  });
  known.learn(ids);
  return result;
}

/**
 * All records of the group in one statement (the rare path: resends and overlaps, and a group
 * whose COPY met a stored record), their columns read back from the batches' COPY text. The
 * short columns go as PostgreSQL array literals built here in one pass (pg's generic array
 * serializer prepares and escapes every element: the gateway id alone once per record); the
 * payloads, the bulk of the bytes, as one text that PostgreSQL splits: pg's array literal
 * escaping costs 5-20 µs per payload in JavaScript, the join about 1 µs.
 */
async function insertRecords(c: PoolClient, batches: readonly IngestBatch[]): Promise<number> {
  const groups: RowGroup[] = batches.filter((b) => b.rows.seq.length > 0).map((b) => ({ gatewayId: b.gatewayId, rows: recordRows(b.rows) }));
  if (groups.length === 0) return 0;
  const res = await c.query({
    name: 'ingest-records',
    text: `INSERT INTO records (gateway_id, seq, id, type, money, created_ms, payload, problem)
     SELECT g, s, i, t, m, cr, p::jsonb, pr
     FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::boolean[], $6::bigint[], string_to_array($7::text, E'\\x1e'), $8::text[]) AS u(g, s, i, t, m, cr, p, pr)
     ON CONFLICT (gateway_id, seq) DO NOTHING`,
    values: [
      arrayLiteral(groups, (g) => `${quoted(g.gatewayId)},`.repeat(g.rows.length)),
      arrayLiteral(groups, (g) => `${g.rows.map((r) => r.seq).join(',')},`),
      arrayLiteral(groups, (g) => g.rows.map((r) => `${quoted(r.id)},`).join('')),
      arrayLiteral(groups, (g) => g.rows.map((r) => `${quoted(r.type)},`).join('')),
      arrayLiteral(groups, (g) => `${g.rows.map((r) => (r.money ? 't' : 'f')).join(',')},`),
      arrayLiteral(groups, (g) => `${g.rows.map((r) => r.createdMs).join(',')},`),
      groups.flatMap((g) => g.rows.map((r) => r.payload)).join(PAYLOAD_SEPARATOR),
      arrayLiteral(groups, (g) => g.rows.map((r) => (r.problem === null ? 'NULL,' : `${quoted(r.problem)},`)).join('')),
    ],
  });
  return res.rowCount ?? 0;
}

/** Between two payloads' JSON texts in the INSERT's payload parameter: JSON text never holds a raw control character. */
const PAYLOAD_SEPARATOR = '\x1e';

/** One batch's records as columns: the INSERT path's input. */
interface RowGroup {
  gatewayId: string;
  rows: RecordRow[];
}

/** A PostgreSQL array literal of every group's part, each part ending in a comma (the last one dropped). */
function arrayLiteral(groups: readonly RowGroup[], part: (g: RowGroup) => string): string {
  let s = '';
  for (const g of groups) s += part(g);
  return `{${s.slice(0, -1)}}`;
}

const NEEDS_ESCAPE = /["\\]/;

/** One text element of an array literal: always quoted (unquoted, NULL and blanks mean something else). */
function quoted(x: string): string {
  return NEEDS_ESCAPE.test(x) ? `"${x.replace(/(["\\])/g, '\\$1')}"` : `"${x}"`;
}

/**
 * Keeps the picked heads once (ON CONFLICT DO NOTHING: a resend's heads are already there) and
 * returns every received head whose (gateway, chain, seq) is kept with another hash. The final
 * SELECT sees the table as it was before this statement's insert, so it compares with what
 * earlier transactions kept.
 */
async function keepHeads(c: PoolClient, rows: readonly HeadPick[]): Promise<HeadConflict[]> {
  if (rows.length === 0) return [];
  const res = await c.query<{ gateway_id: string; chain: 'audit' | 'money'; seq: string; hash: string; stored: string }>({
    name: 'ingest-heads',
    text: `WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::boolean[]) AS u(gateway_id, chain, seq, hash, keep)),
     ins AS (INSERT INTO gateway_heads (gateway_id, chain, seq, hash) SELECT gateway_id, chain, seq, hash FROM u WHERE keep ON CONFLICT DO NOTHING)
     SELECT u.gateway_id, u.chain, u.seq, u.hash, h.hash AS stored FROM u JOIN gateway_heads h USING (gateway_id, chain, seq) WHERE h.hash <> u.hash`,
    values: [rows.map((r) => r.gatewayId), rows.map((r) => r.chain), rows.map((r) => r.seq), rows.map((r) => r.hash), rows.map((r) => r.keep)],
  });
  return res.rows.map((r) => ({ gatewayId: r.gateway_id, chain: r.chain, seq: Number(r.seq), hash: r.hash, storedHash: r.stored }));
}

/** One report per (gateway, chain, seq, hash): found in the table and against the row, it is one rewrite. */
function dedupeConflicts(all: readonly HeadConflict[]): HeadConflict[] {
  const seen = new Set<string>();
  return all.filter((h) => {
    const k = `${h.gatewayId}\n${h.chain}\n${h.seq}\n${h.hash}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
