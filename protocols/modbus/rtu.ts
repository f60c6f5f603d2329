// Modbus RTU application data units: [unit][PDU][CRC lo][CRC hi].
// The master side knows from its request how long the reply must be, so it never needs an idle
// timer to find the end of a frame; the slave side sizes requests by function code.
import { crc16, crcOk, putCrc, withCrc } from './crc.js';
import { replyPduLength, requestPduLength, writeRequestPdu, type ModbusRequest } from './pdu.js';

export const RTU_MAX_ADU = 256;

/** The whole frame built in one buffer: unit, PDU, CRC. */
export function encodeRtuRequest(unit: number, req: ModbusRequest): Buffer {
  const n = requestPduLength(req);
  const b = Buffer.allocUnsafe(1 + n + 2);
  b[0] = unit;
  writeRequestPdu(req, b, 1);
  putCrc(b, 1 + n);
  return b;
}

export function encodeRtuReply(unit: number, pdu: Buffer): Buffer {
  return withCrc(Buffer.concat([Buffer.from([unit]), pdu]));
}

/** Bytes of the normal RTU reply to `req`: unit + PDU + CRC. An exception reply is 5. */
export function rtuReplyLength(req: ModbusRequest): number {
  return 1 + replyPduLength(req) + 2;
}

export type ReplyScan =
  | { status: 'incomplete'; need: number }
  | { status: 'frame'; frame: Buffer; pdu: Buffer }
  | { status: 'bad'; reason: 'crc' | 'unit' | 'function' | 'length'; detail: string };

/**
 * Looks at the bytes received so far for the reply to (`unit`, `req`) and says whether a whole,
 * valid frame is there. Checks unit, function code (or its exception form), the length implied
 * by the request and the CRC. Bytes after the frame are not inspected: the caller treats them
 * as line noise to be drained.
 */
export function scanRtuReply(unit: number, req: ModbusRequest, rx: Buffer): ReplyScan {
  if (rx.length < 2) return { status: 'incomplete', need: 2 - rx.length };
  const gotUnit = rx[0] ?? 0;
  if (gotUnit !== unit) return { status: 'bad', reason: 'unit', detail: `reply from unit ${gotUnit}, expected ${unit}` };
  const fc = rx[1] ?? 0;
  let total: number;
  if (fc === (req.fc | 0x80)) total = 5;
  else if (fc === req.fc) total = rtuReplyLength(req);
  else return { status: 'bad', reason: 'function', detail: `reply function ${fc}, expected ${req.fc}` };
  // For reads the byte count comes third; a wrong one means a frame we must not trust.
  if (fc === req.fc && req.fc <= 4 && rx.length >= 3) {
    const count = rx[2] ?? 0;
    if (count !== total - 5) return { status: 'bad', reason: 'length', detail: `byte count ${count}, expected ${total - 5}` };
  }
  if (rx.length < total) return { status: 'incomplete', need: total - rx.length };
  if (!crcOk(rx, total)) {
    const got = ((rx[total - 1] ?? 0) << 8) | (rx[total - 2] ?? 0);
    const want = crc16(rx, 0, total - 2);
    return { status: 'bad', reason: 'crc', detail: `crc 0x${got.toString(16)} != 0x${want.toString(16)}` };
  }
  // Views into rx, not copies: the master decodes the PDU at once; a caller keeping one copies it.
  return { status: 'frame', frame: rx.subarray(0, total), pdu: rx.subarray(1, total - 2) };
}

/**
 * Slave side: how many bytes the request starting at rx[0] occupies, or `undefined` while that
 * cannot be known yet, or `null` when the function code is not one whose length we know (the
 * slave then falls back to the t3.5 idle gap).
 */
export function rtuRequestLength(rx: Buffer): number | undefined | null {
  if (rx.length < 2) return undefined;
  const fc = rx[1] ?? 0;
  if (fc >= 1 && fc <= 6) return 8;
  if (fc === 15 || fc === 16) {
    if (rx.length < 7) return undefined;
    return 9 + (rx[6] ?? 0);
  }
  return null;
}
