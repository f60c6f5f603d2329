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
import { RECORD_COLUMNS, pickRows, type IngestBatch } from './rows.js';

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
  return { ...b, rows: pickRows(b.rows, idx) };
}

/**
 * Bytes of COPY text per chunk written: pg-copy-streams writes each chunk as two socket writes
 * (its CopyData header, then the chunk), so a chunk per batch was two syscalls per message; one
 * chunk per transaction (megabytes) cost PostgreSQL more than it saved (each CopyData message is
 * read whole into one buffer before it is parsed: out of the cache by then). Batches are joined
 * up to this size.
 */
const COPY_CHUNK_BYTES = 64 * 1024;

/** COPY of every row of the batches into `table`: their COPY text as built at receipt, in chunks of about COPY_CHUNK_BYTES. Returns the rows copied. */
export async function copyRecords(c: PoolClient, table: string, batches: readonly IngestBatch[]): Promise<number> {
  const parts = batches.filter((b) => b.rows.seq.length > 0);
  if (parts.length === 0) return 0;
  const sink: Writable = c.query(copyFrom(`COPY ${table} (${RECORD_COLUMNS}) FROM STDIN`));
  await pipeline(async function* () {
    let chunk: Buffer[] = [];
    let bytes = 0;
    for (const b of parts) {
      chunk.push(b.rows.copy);
      bytes += b.rows.copy.length;
      if (bytes >= COPY_CHUNK_BYTES) {
        yield chunk.length === 1 ? b.rows.copy : Buffer.concat(chunk, bytes);
        chunk = [];
        bytes = 0;
      }
    }
    if (chunk.length > 0) yield Buffer.concat(chunk, bytes);
  }, sink);
  return parts.reduce((n, b) => n + b.rows.seq.length, 0);
}
