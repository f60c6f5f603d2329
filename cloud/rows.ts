// A batch's records as the worker holds them between receipt and commit: columns, not objects.
import type { ChainHead } from './heads.js';

/**
 * A batch's records as columns, built once when the message is read: a pending batch is a few
 * arrays and one string instead of hundreds of small objects (what the worker holds between
 * receipt and commit stays cheap for the garbage collector).
 */
export interface IngestRows {
  seq: number[];
  id: string[];
  type: string[];
  money: boolean[];
  createdMs: number[];
  /** Every record's payload as JSON text, joined by PAYLOAD_SEPARATOR. */
  payloads: string;
  /** Per record: null when the payload passed its type's schema, else why not. */
  problem: (string | null)[];
}

/** Between two payloads' JSON texts: JSON text never holds a raw control character (JSON.stringify escapes them). */
export const PAYLOAD_SEPARATOR = '\x1e';

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

