// Transactional outbox. A record is enqueued in the same transaction as the fact it reports,
// with the next gap-free per-gateway seq, and leaves only when the cloud acknowledges it (ack)
// or rejects it (deadLetter: kept in outbox_dead, never dropped).
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { appendAudit, auditHead, type AuditHead, type AuditInput, type AuditRecord } from './audit.js';
import type { Statement } from 'better-sqlite3';
import { META, getMetaInt, inTx, markOutboxAppended, setMeta, type LedgerContext } from './context.js';
import type { Db } from './db.js';
import { exposureLeaving } from './exposure.js';
import { bindVend, moneyHead } from './money-chain.js';

export interface OutboxRecord {
  seq: number;
  id: string;
  type: string;
  money: boolean;
  createdMs: number;
  payload: unknown;
}

export interface OutboxBatch {
  gatewayId: string;
  records: OutboxRecord[];
  auditHead: AuditHead;
  moneyHead?: AuditHead;
}

export interface OutboxStats {
  depth: number;
  oldestAgeMs: number | null;
  lastSeq: number;
  ackedSeq: number;
  deadLetters: number;
}

interface OutboxRow {
  seq: number;
  id: string;
  type: string;
  money: number;
  created_ms: number;
  payload: string;
}

export function enqueue(ctx: LedgerContext, rec: { type: string; money: boolean; payload: unknown }): { seq: number; id: string } {
  const seq = getMetaInt(ctx.db, META.outboxLastSeq) + 1;
  const id = randomUUID();
  ctx.db
    .prepare('INSERT INTO outbox (seq, id, type, money, created_ms, payload) VALUES (?, ?, ?, ?, ?, ?)')
    .run(seq, id, rec.type, rec.money ? 1 : 0, Math.floor(ctx.clock.now()), JSON.stringify(rec.payload));
  setMeta(ctx.db, META.outboxLastSeq, String(seq));
  markOutboxAppended(ctx.db);
  return { seq, id };
}

export interface FactResult {
  audit: AuditRecord;
  outboxSeq: number;
  outboxId: string;
}

/**
 * One audit record and the one outbox record that carries it (with the fact's own payload)
 * upstream, so the cloud can check the chain too. Call inside the fact's transaction.
 */
export function recordFact(ctx: LedgerContext, fact: { type: string; money: boolean; audit: AuditInput; payload: Record<string, unknown> }): FactResult {
  const nextSeq = getMetaInt(ctx.db, META.outboxLastSeq) + 1;
  const audit = appendAudit(ctx, fact.audit, nextSeq);
  const { seq, id } = enqueue(ctx, { type: fact.type, money: fact.money, payload: { ...fact.payload, audit } });
  if (seq !== nextSeq) throw new Error('ledger: outbox seq moved while recording a fact');
  // A step that settles or pays a vend: its money columns are bound at the end of the transaction.
  if (fact.money && fact.audit.vendId != null && fact.audit.kind !== 'credit_sent') bindVend(ctx, fact.audit.vendId, seq);
  return { audit, outboxSeq: seq, outboxId: id };
}

const batchOpts = z.object({
  maxCount: z.number().int().positive(),
  maxBytes: z.number().int().positive(),
  afterSeq: z.number().int().nonnegative().optional(),
});

export interface BatchReadOptions {
  maxCount: number;
  maxBytes: number;
  /** Only records above this seq (the uplink reads the next batch while others are in flight). */
  afterSeq?: number;
}

/** A record with its payload as the JSON text stored, for senders that copy it verbatim. */
export interface OutboxRecordJson extends Omit<OutboxRecord, 'payload'> {
  payloadJson: string;
}

export interface OutboxBatchJson {
  gatewayId: string;
  records: OutboxRecordJson[];
  auditHead: AuditHead;
  /** The money chain's head when the batch was read (money-chain.ts): the cloud acks it back. */
  moneyHead: AuditHead;
  /** The ack watermark when the batch was read: every seq at or below it is retired. */
  ackedSeq: number;
}

/**
 * The oldest unsent records (above afterSeq, if given) in seq order, payloads as their stored
 * JSON text. The first record is always returned even if it is larger than maxBytes: a big
 * record must not block the queue forever.
 */
export function nextBatchJson(ctx: LedgerContext, opts: BatchReadOptions): OutboxBatchJson {
  const o = batchOpts.parse(opts);
  const rows = ctx.db.prepare('SELECT seq, id, type, money, created_ms, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?').all(o.afterSeq ?? 0, o.maxCount) as OutboxRow[];
  const records: OutboxRecordJson[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = Buffer.byteLength(row.payload);
    if (records.length > 0 && bytes + size > o.maxBytes) break;
    bytes += size;
    records.push({ seq: row.seq, id: row.id, type: row.type, money: row.money === 1, createdMs: row.created_ms, payloadJson: row.payload });
  }
  return { gatewayId: ctx.gatewayId, records, auditHead: auditHead(ctx), moneyHead: moneyHead(ctx.db, ctx.gatewayId), ackedSeq: getMetaInt(ctx.db, META.outboxAckedSeq) };
}

/** The next batch as JSON text built by SQLite, for a sender that only wraps it. */
export interface OutboxBatchText {
  gatewayId: string;
  /** Records in the batch (0: nothing to send). */
  count: number;
  fromSeq: number;
  toSeq: number;
  /** createdMs of the first record (0 when empty). */
  firstCreatedMs: number;
  /** UTF-8 bytes of the records' payloads (what maxBytes bounds). */
  payloadBytes: number;
  /**
   * The records as the inside of a JSON array, in seq order: each an OutboxRecord object
   * `{"seq","id","type","money","createdMs","payload"}` with the stored payload text verbatim.
   */
  recordsJson: string;
  auditHead: AuditHead;
  moneyHead: AuditHead;
  ackedSeq: number;
}

// The same selection as nextBatchJson (above afterSeq, at most maxCount, a prefix within
// maxBytes of payload but always the first record), serialized in one statement: a backlog read
// costs one string crossing into JavaScript instead of an object per record. How many records
// fit is found first from the payloads' lengths alone (a number per row), so the JSON text is
// built once, for exactly those records. Before, a backlog's every batch was over the byte bound
// (500 records of ~300 bytes > 128 KiB): its text was built for all 500, then again by a
// windowed statement that cut it, ~21 ms of the event loop per batch at load 20
// (test/bench/drain-vend.ts).
const RECORD_JSON = `'{"seq":' || seq || ',"id":' || json_quote(id) || ',"type":' || json_quote(type) ||
  ',"money":' || iif(money = 1, 'true', 'false') || ',"createdMs":' || created_ms || ',"payload":' || payload || '}'`;
const BATCH_LENGTHS_SQL = 'SELECT octet_length(payload) FROM outbox WHERE seq > @after ORDER BY seq LIMIT @count';
const BATCH_TEXT_SQL = `
SELECT count(*) AS n, coalesce(min(seq), 0) AS from_seq, coalesce(max(seq), 0) AS to_seq,
       coalesce(sum(len), 0) AS bytes, coalesce(min(iif(seq = first, created_ms, NULL)), 0) AS first_created,
       coalesce(group_concat(r, ',' ORDER BY seq), '') AS records
FROM (SELECT seq, created_ms, octet_length(payload) AS len, ${RECORD_JSON} AS r,
             (SELECT min(seq) FROM outbox WHERE seq > @after) AS first
      FROM outbox WHERE seq > @after ORDER BY seq LIMIT @count)`;

// Compiling these long statements cost about as much as running them; a drain runs them
// hundreds of times on the one connection.
const batchTextStatements = new WeakMap<Db, { lengths: Statement; text: Statement }>();

function batchTextStatementsOf(db: Db): { lengths: Statement; text: Statement } {
  let st = batchTextStatements.get(db);
  if (st === undefined) {
    st = { lengths: db.prepare(BATCH_LENGTHS_SQL).pluck(true), text: db.prepare(BATCH_TEXT_SQL) };
    batchTextStatements.set(db, st);
  }
  return st;
}

/** How many of the records above `after` make the batch: at most maxCount, within maxBytes, at least one. */
function batchCount(st: Statement, after: number, maxCount: number, maxBytes: number): number {
  let count = 0;
  let bytes = 0;
  for (const len of st.iterate({ after, count: maxCount }) as Iterable<number>) {
    if (count > 0 && bytes + len > maxBytes) break;
    bytes += len;
    count++;
  }
  return count;
}

interface BatchTextRow {
  n: number;
  from_seq: number;
  to_seq: number;
  bytes: number;
  first_created: number;
  records: string;
}

export function nextBatchText(ctx: LedgerContext, opts: BatchReadOptions): OutboxBatchText {
  const o = batchOpts.parse(opts);
  const after = o.afterSeq ?? 0;
  const st = batchTextStatementsOf(ctx.db);
  const row = st.text.get({ after, count: batchCount(st.lengths, after, o.maxCount, o.maxBytes) }) as BatchTextRow;
  return {
    gatewayId: ctx.gatewayId,
    count: row.n,
    fromSeq: row.from_seq,
    toSeq: row.to_seq,
    firstCreatedMs: row.first_created,
    payloadBytes: row.bytes,
    recordsJson: row.records,
    auditHead: auditHead(ctx),
    moneyHead: moneyHead(ctx.db, ctx.gatewayId),
    ackedSeq: getMetaInt(ctx.db, META.outboxAckedSeq),
  };
}

/** nextBatchJson with the payloads parsed. */
export function nextBatch(ctx: LedgerContext, opts: BatchReadOptions): OutboxBatch {
  const b = nextBatchJson(ctx, opts);
  return {
    gatewayId: b.gatewayId,
    auditHead: b.auditHead,
    moneyHead: b.moneyHead,
    records: b.records.map(({ payloadJson, ...r }) => ({ ...r, payload: JSON.parse(payloadJson) as unknown })),
  };
}

/** The heads a cloud ack says the cloud holds (down/ack auditHead, moneyHead). */
export interface AckedHeads {
  audit?: AuditHead;
  money?: AuditHead;
}

const headSchema = z.strictObject({ seq: z.number().int().nonnegative(), hash: z.string().regex(/^[0-9a-f]{64}$/) });

/**
 * Keeps a head the cloud acknowledged as the anchor `audit verify` proves, when it is newer than
 * the one kept and this ledger's chain holds it; one it does not hold is logged and not kept (the
 * cloud holds a history this file no longer has: verify against the cloud's heads).
 */
function keepAckedHead(ctx: LedgerContext, chain: 'audit' | 'money', h: AuditHead): void {
  const [seqKey, hashKey, table] = chain === 'audit' ? [META.auditAckedSeq, META.auditAckedHash, 'audit'] : [META.moneyAckedSeq, META.moneyAckedHash, 'money_chain'];
  if (h.seq === 0 || h.seq <= getMetaInt(ctx.db, seqKey)) return;
  const row = ctx.db.prepare(`SELECT hash FROM ${table} WHERE seq = ?`).get(h.seq) as { hash: string } | undefined;
  if (row === undefined) return; // pruned, or beyond what this file holds: nothing to anchor to
  if (row.hash !== h.hash) {
    ctx.logger.error({ chain, seq: h.seq }, 'the cloud acknowledged a chain head this ledger does not hold: its history was rewritten');
    return;
  }
  setMeta(ctx.db, seqKey, String(h.seq));
  setMeta(ctx.db, hashKey, h.hash);
}

/**
 * Retires every record up to upToSeq, and keeps the chain heads the ack carries. Repeated, old
 * or out-of-range acks are harmless.
 *
 * Committed at synchronous=NORMAL (the connection's FULL is restored right after): no fsync of
 * its own. An ack lost to a power cut only means the cloud gets those records again and dedupes
 * them (docs/mqtt-contract.md), and a head lost with it comes again with the next ack; WAL
 * recovery keeps commits in order: the next FULL commit's fsync makes this one durable too, and
 * nothing after it survives without it. While a backlog drains, the ack's fsync was the longest
 * stall of the event loop a swipe could queue behind (test/bench/drain-vend.ts), and every fsync
 * rewrites the WAL's last partly filled 4 KiB block on the SD card.
 */
export function ack(ctx: LedgerContext, upToSeq: number, heads: AckedHeads = {}): { retired: number; ackedSeq: number } {
  const upTo = z.number().int().nonnegative().parse(upToSeq);
  // A malformed head is left out, never thrown: the watermark it came with must still apply.
  const valid = (h: AuditHead | undefined, chain: string): AuditHead | undefined => {
    if (h === undefined) return undefined;
    const p = headSchema.safeParse(h);
    if (!p.success) ctx.logger.warn({ chain }, 'an ack carried a malformed chain head; not kept');
    return p.success ? p.data : undefined;
  };
  const kept = { audit: valid(heads.audit, 'audit'), money: valid(heads.money, 'money') };
  if (ctx.db.inTransaction) return retire(ctx, upTo, kept);
  ctx.db.pragma('synchronous = NORMAL');
  try {
    return retire(ctx, upTo, kept);
  } finally {
    ctx.db.pragma('synchronous = FULL');
    if (ctx.db.pragma('synchronous', { simple: true }) !== 2) throw new Error('ledger: synchronous=FULL could not be restored after an ack');
  }
}

function retire(ctx: LedgerContext, upTo: number, heads: AckedHeads): { retired: number; ackedSeq: number } {
  return inTx(ctx.db, () => {
    if (heads.audit) keepAckedHead(ctx, 'audit', heads.audit);
    if (heads.money) keepAckedHead(ctx, 'money', heads.money);
    const last = getMetaInt(ctx.db, META.outboxLastSeq);
    const prevAcked = getMetaInt(ctx.db, META.outboxAckedSeq);
    const target = Math.min(upTo, last);
    const retired = ctx.db.prepare('DELETE FROM outbox WHERE seq <= ?').run(target).changes;
    const acked = Math.max(prevAcked, target);
    if (acked !== prevAcked) {
      exposureLeaving(ctx, prevAcked, acked);
      setMeta(ctx.db, META.outboxAckedSeq, String(acked));
    }
    return { retired, ackedSeq: acked };
  });
}

/**
 * Moves records the cloud rejected out of the way so the rest can flow. They stay in
 * outbox_dead (money is never dropped) and an alert goes into the audit trail and upstream.
 */
export function deadLetter(ctx: LedgerContext, seqs: readonly number[], reason: string): { moved: number[]; alertSeq: number | null } {
  const list = z.array(z.number().int().positive()).parse(seqs);
  const why = z.string().min(1).max(500).parse(reason);
  return inTx(ctx.db, () => {
    const moved: number[] = [];
    const now = Math.floor(ctx.clock.now());
    for (const seq of [...new Set(list)].sort((a, b) => a - b)) {
      const changes = ctx.db
        .prepare(
          `INSERT INTO outbox_dead (seq, id, type, money, created_ms, payload, dead_ms, reason)
           SELECT seq, id, type, money, created_ms, payload, ?, ? FROM outbox WHERE seq = ?`,
        )
        .run(now, why, seq).changes;
      if (changes === 1) {
        ctx.db.prepare('DELETE FROM outbox WHERE seq = ?').run(seq);
        moved.push(seq);
      }
    }
    if (moved.length === 0) return { moved, alertSeq: null };
    const fact = recordFact(ctx, {
      type: 'alert',
      money: false,
      audit: { kind: 'alert', result: 'raised', reason: 'outbox_dead_letter', detail: { seqs: moved, why } },
      payload: { code: 'outbox_dead_letter', seqs: moved, why },
    });
    ctx.logger.error({ seqs: moved, reason: why }, 'outbox records rejected upstream moved to dead letters');
    return { moved, alertSeq: fact.audit.seq };
  });
}

export interface DeadLetter extends OutboxRecord {
  deadMs: number;
  reason: string;
}

/** The newest dead letters first, for the status page and the CLI. */
export function listDeadLetters(ctx: LedgerContext, limit: number): DeadLetter[] {
  const n = z.number().int().positive().max(10000).parse(limit);
  const rows = ctx.db.prepare('SELECT * FROM outbox_dead ORDER BY seq DESC LIMIT ?').all(n) as Array<OutboxRow & { dead_ms: number; reason: string }>;
  return rows.map((row) => ({
    seq: row.seq,
    id: row.id,
    type: row.type,
    money: row.money === 1,
    createdMs: row.created_ms,
    payload: JSON.parse(row.payload) as unknown,
    deadMs: row.dead_ms,
    reason: row.reason,
  }));
}

// The status page, /metrics and the health message read this every few seconds, so it must not
// scan the outbox: COUNT(*) and MIN(created_ms) over a week's backlog (60 000 records, 42 MB)
// took ~16 ms of the event loop each time. The seqs above the ack watermark are gap-free across
// outbox and outbox_dead (the self-check, storage/check.ts, verifies exactly that), so the depth
// is arithmetic plus a range count of the (rare) dead letters; the oldest record is the lowest seq.
export function outboxStats(ctx: LedgerContext): OutboxStats {
  const lastSeq = getMetaInt(ctx.db, META.outboxLastSeq);
  const ackedSeq = getMetaInt(ctx.db, META.outboxAckedSeq);
  const deadAbove = ctx.db.prepare('SELECT COUNT(*) AS n FROM outbox_dead WHERE seq > ?').get(ackedSeq) as { n: number };
  const oldest = ctx.db.prepare('SELECT created_ms AS c FROM outbox ORDER BY seq LIMIT 1').get() as { c: number } | undefined;
  const dead = ctx.db.prepare('SELECT COUNT(*) AS n FROM outbox_dead').get() as { n: number };
  return {
    depth: Math.max(0, lastSeq - ackedSeq - deadAbove.n),
    oldestAgeMs: oldest === undefined ? null : Math.max(0, Math.floor(ctx.clock.now()) - oldest.c),
    lastSeq,
    ackedSeq,
    deadLetters: dead.n,
  };
}

const eventType = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/);

/** A non-money event's type and payload, checked: money, declines and alerts have their own API. */
export function parseEvent(type: string, payload: unknown): { type: string; json: string } {
  const t = eventType.parse(type);
  if (/^(vend|account|decline|alert)(\.|$)/.test(t)) throw new Error('ledger: money, decline and alert records go through their own API');
  const json = JSON.stringify(payload);
  if (json === undefined) throw new Error('ledger: event payload is not JSON');
  return { type: t, json };
}

/** Non-money events (machine state changes): an outbox record only, no audit record. */
export function enqueueEvent(ctx: LedgerContext, type: string, payload: unknown): { seq: number; id: string } {
  const e = parseEvent(type, payload);
  return inTx(ctx.db, () => enqueue(ctx, { type: e.type, money: false, payload: JSON.parse(e.json) as unknown }));
}
