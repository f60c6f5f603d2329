// A batch's records as the worker holds them between receipt and commit: their seqs, and every
// record already as a line of COPY's text format in one Buffer.
import type { ChainHead } from './heads.js';

/** The records table's columns in the order of a COPY line. */
export const RECORD_COLUMNS = 'gateway_id, seq, id, type, money, created_ms, payload, problem';

/** One record with its payload as JSON text. */
export interface RecordRow {
  seq: number;
  id: string;
  type: string;
  money: boolean;
  createdMs: number;
  /** The payload as JSON text. */
  payload: string;
  /** Null when the payload passed its type's schema, else why not. */
  problem: string | null;
}

/**
 * A batch's records, built once when the message is read: their seqs (the stream bookkeeping)
 * and their COPY text (every record as a line of RECORD_COLUMNS, gateway_id first), UTF-8 in a
 * Buffer. What a COPY sends is then the batches' Buffers joined: no split, escaping or encoding per
 * transaction, and a pending batch's bytes lie outside V8's heap, where no scavenge copies them
 * (the garbage collector was a fifth of a worker's CPU in a burst). The few paths that need the
 * columns (a resend stored by INSERT … ON CONFLICT) read them back from the text (recordRows).
 */
export interface IngestRows {
  seq: number[];
  copy: Buffer;
}

export interface IngestBatch {
  roomId: string;
  gatewayId: string;
  fromSeq: number;
  toSeq: number;
  afterSeq?: number;
  ackedSeq?: number;
  /** The gateway's audit and money chain heads when it read the batch. */
  auditHead?: ChainHead;
  moneyHead?: ChainHead;
  rows: IngestRows;
}

/**
 * One record's COPY line; `gw` is the gateway id and `payload` the payload's JSON text, both
 * already escaped (escapeCopy; escapeStringified for JSON.stringify's output).
 */
export function copyLine(gw: string, r: Omit<RecordRow, 'payload'>, payload: string): string {
  return `${gw}\t${r.seq}\t${escapeCopy(r.id)}\t${escapeCopy(r.type)}\t${r.money ? 't' : 'f'}\t${r.createdMs}\t${payload}\t${r.problem === null ? '\\N' : escapeCopy(r.problem)}\n`;
}

/** A batch's rows from its records (in the batch's order). */
export function ingestRows(gatewayId: string, records: readonly RecordRow[]): IngestRows {
  const gw = escapeCopy(gatewayId);
  let text = '';
  for (const r of records) text += copyLine(gw, r, escapeCopy(r.payload));
  return { seq: records.map((r) => r.seq), copy: Buffer.from(text, 'utf8') };
}

/** The records back from their COPY text, unescaped: for the paths that need columns. */
export function recordRows(rows: IngestRows): RecordRow[] {
  return copyLines(rows).map((line) => {
    const [, seq, id, type, money, createdMs, payload, problem] = line.split('\t');
    return {
      seq: Number(seq),
      id: unescapeCopy(id ?? ''),
      type: unescapeCopy(type ?? ''),
      money: money === 't',
      createdMs: Number(createdMs),
      payload: unescapeCopy(payload ?? 'null'),
      problem: problem === undefined || problem === '\\N' ? null : unescapeCopy(problem),
    };
  });
}

/** The rows at these indexes, in their order. */
export function pickRows(rows: IngestRows, idx: readonly number[]): IngestRows {
  const lines = copyLines(rows);
  return { seq: idx.map((i) => rows.seq[i] ?? 0), copy: Buffer.from(idx.map((i) => `${lines[i] ?? ''}\n`).join(''), 'utf8') };
}

/** Each record's line without its newline (an escaped value holds no raw newline). */
function copyLines(rows: IngestRows): string[] {
  const text = rows.copy.toString('utf8');
  return text.length === 0 ? [] : text.slice(0, -1).split('\n');
}

const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const COPY_UNESCAPES: Record<string, string> = { '\\': '\\', n: '\n', r: '\r', t: '\t' };

/** A text value in COPY's text format: backslash, newline, carriage return and tab escaped. */
export function escapeCopy(x: string): string {
  return COPY_SPECIAL.test(x) ? x.replace(/[\\\n\r\t]/g, (ch) => COPY_ESCAPES[ch] ?? ch) : x;
}

/**
 * escapeCopy of JSON.stringify's output: it never holds a raw control character (it escapes
 * U+0000-U+001F), so only backslashes are doubled; indexOf finds none in most payloads at a
 * fraction of the regular expression's scan (escapeCopy was 9 % of a worker's burst CPU).
 */
export function escapeStringified(json: string): string {
  return json.indexOf('\\') === -1 ? json : json.replaceAll('\\', '\\\\');
}

/** escapeCopy undone. */
export function unescapeCopy(x: string): string {
  return x.includes('\\') ? x.replace(/\\([\\nrt])/g, (_m, ch: string) => COPY_UNESCAPES[ch] ?? ch) : x;
}
