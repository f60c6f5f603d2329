// Records into PostgreSQL by COPY, the bulk path: inside the ingest transaction, under the
// gateways' row locks, the records the stream state proves new (above the watermark, in no
// stored segment, not twice in this group) go in by one COPY; the rest (resends, overlaps) by
// the INSERT … ON CONFLICT DO NOTHING of store.ts. COPY has no ON CONFLICT: should a record the
// state calls new be stored after all (a segment forgotten beyond maxSegments), the primary key
// refuses the COPY, the transaction rolls back and store.ts runs it again without COPY. The
// primary key (gateway, seq) stays what keeps every record once.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Segment } from './stream.js';
import { PAYLOAD_SEPARATOR, type IngestBatch } from './rows.js';

export const RECORD_COLUMNS = 'gateway_id, seq, id, type, money, created_ms, payload, problem';

/** The stream state of each locked gateway: what is already stored. */
export interface StoredState {
  storedSeq: number;
  segments: Segment[];
}

/** The batches' records split: those proven new (for COPY) and the others (for INSERT … ON CONFLICT). */
export interface RecordSplit {
  fresh: IngestBatch[];
  maybeStored: IngestBatch[];
}

/** Splits each batch's rows by whether the gateway's stored state (and this group) already has the seq. */
export function splitNew(batches: readonly IngestBatch[], state: ReadonlyMap<string, StoredState>): RecordSplit {
  const taken = new Map<string, Set<number>>();
  const fresh: IngestBatch[] = [];
  const maybeStored: IngestBatch[] = [];
  for (const b of batches) {
    const s = state.get(b.gatewayId);
    let seen = taken.get(b.gatewayId);
    if (seen === undefined) taken.set(b.gatewayId, (seen = new Set()));
    const isNew = new Array<boolean>(b.rows.seq.length);
    let allNew = true;
    for (let i = 0; i < b.rows.seq.length; i++) {
      const seq = b.rows.seq[i] ?? 0;
      const ok = s !== undefined && seq > s.storedSeq && !s.segments.some((g) => seq > g.after && seq <= g.to) && !seen.has(seq);
      if (ok) seen.add(seq);
      isNew[i] = ok;
      allNew &&= ok;
    }
    if (allNew) fresh.push(b);
    else {
      const [yes, no] = [pick(b, isNew, true), pick(b, isNew, false)];
      if (yes.rows.seq.length > 0) fresh.push(yes);
      if (no.rows.seq.length > 0) maybeStored.push(no);
    }
  }
  return { fresh, maybeStored };
}

function pick(b: IngestBatch, isNew: readonly boolean[], want: boolean): IngestBatch {
  const idx = isNew.flatMap((n, i) => (n === want ? [i] : []));
  const payloads = b.rows.payloads.split(PAYLOAD_SEPARATOR);
  const at = <T>(xs: readonly T[]): T[] => idx.map((i) => xs[i] as T);
  return { ...b, rows: { seq: at(b.rows.seq), id: at(b.rows.id), type: at(b.rows.type), money: at(b.rows.money), createdMs: at(b.rows.createdMs), problem: at(b.rows.problem), payloads: at(payloads).join(PAYLOAD_SEPARATOR) } };
}

/** COPY of every row of the batches into `table` (text format, one write). Returns the rows copied. */
export async function copyRecords(c: PoolClient, table: string, batches: readonly IngestBatch[]): Promise<number> {
  const text = copyText(batches);
  if (text.length === 0) return 0;
  const sink: Writable = c.query(copyFrom(`COPY ${table} (${RECORD_COLUMNS}) FROM STDIN`));
  await pipeline(async function* () {
    yield Buffer.from(text, 'utf8');
  }, sink);
  return batches.reduce((n, b) => n + b.rows.seq.length, 0);
}

/** COPY's text format: tab between columns, a newline after each row, \N for null. */
export function copyText(batches: readonly IngestBatch[]): string {
  const lines: string[] = [];
  for (const b of batches) {
    const r = b.rows;
    if (r.seq.length === 0) continue;
    const gw = escapeCopy(b.gatewayId);
    const payloads = r.payloads.split(PAYLOAD_SEPARATOR);
    for (let i = 0; i < r.seq.length; i++) {
      const problem = r.problem[i];
      lines.push(`${gw}\t${r.seq[i]}\t${escapeCopy(r.id[i] ?? '')}\t${escapeCopy(r.type[i] ?? '')}\t${r.money[i] ? 't' : 'f'}\t${r.createdMs[i]}\t${escapeCopy(payloads[i] ?? 'null')}\t${problem === null || problem === undefined ? '\\N' : escapeCopy(problem)}\n`);
    }
  }
  return lines.join('');
}

const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** A text value in COPY's text format: backslash, newline, carriage return and tab escaped. */
export function escapeCopy(x: string): string {
  return COPY_SPECIAL.test(x) ? x.replace(/[\\\n\r\t]/g, (ch) => COPY_ESCAPES[ch] ?? ch) : x;
}
