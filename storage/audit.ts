// The hash-chained audit trail. Each record's hash is SHA-256 over the previous hash and the
// record's canonical content (its seq included), so an edit, a deletion, an insertion or a
// reordering breaks the chain at a place verifyAudit can name. The head is also kept in meta
// (and sent upstream with every batch) so that cutting records off the end shows too.
import { createHash } from 'node:crypto';
import { META, getMeta, getMetaInt, setMeta, type LedgerContext } from './context.js';
import type { Db } from './db.js';

export interface AuditInput {
  kind: string;
  result: string;
  method?: string | null;
  amountCents?: number | null;
  accountId?: string | null;
  cardMask?: string | null;
  machineId?: string | null;
  program?: number | null;
  reason?: string | null;
  vendId?: string | null;
  detail?: unknown;
}

export interface AuditRecord {
  seq: number;
  wallMs: number;
  monoMs: number;
  bootId: string;
  clockTrusted: boolean;
  kind: string;
  method: string | null;
  amountCents: number | null;
  accountId: string | null;
  cardMask: string | null;
  machineId: string | null;
  program: number | null;
  result: string;
  reason: string | null;
  vendId: string | null;
  detail: string | null;
  prevHash: string;
  hash: string;
}

export interface AuditHead {
  seq: number;
  hash: string;
}

export type AuditVerdict =
  | { ok: true; count: number; head: AuditHead; anchorSeq: number }
  | { ok: false; atSeq: number; problem: string };

/** An audit row as SQLite returns it (tests that read the file directly use it too). */
export interface AuditRow {
  seq: number;
  wall_ms: number;
  mono_ms: number;
  boot_id: string;
  clock_trusted: number;
  kind: string;
  method: string | null;
  amount_cents: number | null;
  account_id: string | null;
  card_mask: string | null;
  machine_id: string | null;
  program: number | null;
  result: string;
  reason: string | null;
  vend_id: string | null;
  detail: string | null;
  prev_hash: string;
  hash: string;
}

/** The chain starts from a per-gateway value, so two gateways' chains never splice. */
export function genesisHash(gatewayId: string): string {
  return createHash('sha256').update(`laundry-gateway/audit/v1/${gatewayId}`).digest('hex');
}

type Content = Omit<AuditRecord, 'prevHash' | 'hash'>;

/** Field order is fixed here, not by object key order, so the hash never depends on JS engines. */
export function canonicalAudit(r: Content): string {
  return JSON.stringify([
    1, r.seq, r.wallMs, r.monoMs, r.bootId, r.clockTrusted ? 1 : 0, r.kind, r.method, r.amountCents,
    r.accountId, r.cardMask, r.machineId, r.program, r.result, r.reason, r.vendId, r.detail,
  ]);
}

export function auditHash(prevHash: string, r: Content): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalAudit(r)).digest('hex');
}

function fromRow(row: AuditRow): AuditRecord {
  return {
    seq: row.seq,
    wallMs: row.wall_ms,
    monoMs: row.mono_ms,
    bootId: row.boot_id,
    clockTrusted: row.clock_trusted === 1,
    kind: row.kind,
    method: row.method,
    amountCents: row.amount_cents,
    accountId: row.account_id,
    cardMask: row.card_mask,
    machineId: row.machine_id,
    program: row.program,
    result: row.result,
    reason: row.reason,
    vendId: row.vend_id,
    detail: row.detail,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export function auditHead(ctx: LedgerContext): AuditHead {
  const seq = getMetaInt(ctx.db, META.auditHeadSeq);
  return { seq, hash: getMeta(ctx.db, META.auditHeadHash) ?? genesisHash(ctx.gatewayId) };
}

/** Must be called inside the transaction of the fact it records. */
/** outboxSeq: the seq of the outbox record that will carry this one (see recordFact). */
export function appendAudit(ctx: LedgerContext, input: AuditInput, outboxSeq: number): AuditRecord {
  const head = auditHead(ctx);
  const content: Content = {
    seq: head.seq + 1,
    wallMs: Math.floor(ctx.clock.now()),
    monoMs: Math.floor(ctx.clock.monotonic()),
    bootId: ctx.bootId,
    clockTrusted: ctx.clockTrusted(),
    kind: input.kind,
    method: input.method ?? null,
    amountCents: input.amountCents ?? null,
    accountId: input.accountId ?? null,
    cardMask: input.cardMask ?? null,
    machineId: input.machineId ?? null,
    program: input.program ?? null,
    result: input.result,
    reason: input.reason ?? null,
    vendId: input.vendId ?? null,
    detail: input.detail === undefined ? null : JSON.stringify(input.detail),
  };
  const hash = auditHash(head.hash, content);
  ctx.db
    .prepare(
      `INSERT INTO audit (seq, wall_ms, mono_ms, boot_id, clock_trusted, kind, method, amount_cents, account_id,
         card_mask, machine_id, program, result, reason, vend_id, detail, prev_hash, hash, outbox_seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      content.seq, content.wallMs, content.monoMs, content.bootId, content.clockTrusted ? 1 : 0, content.kind,
      content.method, content.amountCents, content.accountId, content.cardMask, content.machineId, content.program,
      content.result, content.reason, content.vendId, content.detail, head.hash, hash, outboxSeq,
    );
  setMeta(ctx.db, META.auditHeadSeq, String(content.seq));
  setMeta(ctx.db, META.auditHeadHash, hash);
  return { ...content, prevHash: head.hash, hash };
}

/** Where verification starts: the genesis, or the last record retention removed. */
export function auditAnchor(db: Db, gatewayId: string): AuditHead {
  return { seq: getMetaInt(db, META.auditAnchorSeq), hash: getMeta(db, META.auditAnchorHash) ?? genesisHash(gatewayId) };
}

export function verifyAudit(db: Db, gatewayId: string): AuditVerdict {
  const anchor = auditAnchor(db, gatewayId);
  let prev = anchor.hash;
  let expectSeq = anchor.seq + 1;
  const rows = db.prepare('SELECT * FROM audit ORDER BY seq').iterate() as IterableIterator<AuditRow>;
  for (const row of rows) {
    const rec = fromRow(row);
    if (rec.seq !== expectSeq) {
      return { ok: false, atSeq: expectSeq, problem: rec.seq > expectSeq ? `record ${expectSeq} missing (next is ${rec.seq})` : `unexpected seq ${rec.seq}` };
    }
    if (rec.prevHash !== prev) return { ok: false, atSeq: rec.seq, problem: 'previous-hash link broken (record deleted, inserted or reordered before it)' };
    if (auditHash(prev, rec) !== rec.hash) return { ok: false, atSeq: rec.seq, problem: 'content does not match its hash (record edited)' };
    prev = rec.hash;
    expectSeq += 1;
  }
  const last = expectSeq - 1;
  const count = last - anchor.seq;
  const headSeq = getMetaInt(db, META.auditHeadSeq);
  const headHash = getMeta(db, META.auditHeadHash) ?? genesisHash(gatewayId);
  if (headSeq !== last) return { ok: false, atSeq: Math.min(headSeq, last) + 1, problem: `stored head is seq ${headSeq} but the trail ends at ${last} (records cut off or added at the end)` };
  if (headHash !== prev) return { ok: false, atSeq: last, problem: 'stored head hash does not match the last record' };
  return { ok: true, count, head: { seq: last, hash: prev }, anchorSeq: anchor.seq };
}

export function readAudit(db: Db, fromSeq: number, limit: number): AuditRecord[] {
  const rows = db.prepare('SELECT * FROM audit WHERE seq >= ? ORDER BY seq LIMIT ?').all(fromSeq, limit) as AuditRow[];
  return rows.map(fromRow);
}
