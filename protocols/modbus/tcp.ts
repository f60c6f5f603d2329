// Modbus TCP (MBAP header) framing: [transaction id][protocol 0][length][unit][PDU].
import type { ModbusRequest } from './pdu.js';
import { requestPduLength, word, writeRequestPdu } from './pdu.js';

export const MBAP_HEADER = 7;

export function encodeMbap(transactionId: number, unit: number, pdu: Buffer): Buffer {
  const b = Buffer.allocUnsafe(MBAP_HEADER + pdu.length);
  b.writeUInt16BE(transactionId & 0xffff, 0);
  b.writeUInt16BE(0, 2);
  b.writeUInt16BE(pdu.length + 1, 4);
  b[6] = unit;
  pdu.copy(b, MBAP_HEADER);
  return b;
}

/** The whole frame built in one buffer: header, unit, PDU. */
export function encodeMbapRequest(transactionId: number, unit: number, req: ModbusRequest): Buffer {
  const n = requestPduLength(req);
  const b = Buffer.allocUnsafe(MBAP_HEADER + n);
  const tid = transactionId & 0xffff;
  b[0] = tid >>> 8;
  b[1] = tid & 0xff;
  b[2] = 0;
  b[3] = 0;
  b[4] = (n + 1) >>> 8;
  b[5] = (n + 1) & 0xff;
  b[6] = unit;
  writeRequestPdu(req, b, MBAP_HEADER);
  return b;
}

export type MbapScan =
  | { status: 'incomplete' }
  | { status: 'frame'; transactionId: number; unit: number; pdu: Buffer; size: number }
  | { status: 'bad'; detail: string };

/** Finds the first whole MBAP frame at the start of `rx`; its `pdu` is a view into rx, not a copy. */
export function scanMbap(rx: Buffer): MbapScan {
  if (rx.length < MBAP_HEADER) return { status: 'incomplete' };
  const protocol = word(rx, 2);
  const length = word(rx, 4);
  if (protocol !== 0) return { status: 'bad', detail: `protocol id ${protocol}` };
  if (length < 2 || length > 254) return { status: 'bad', detail: `MBAP length ${length}` };
  const size = 6 + length;
  if (rx.length < size) return { status: 'incomplete' };
  return {
    status: 'frame',
    transactionId: word(rx, 0),
    unit: rx[6] ?? 0,
    pdu: rx.subarray(MBAP_HEADER, size),
    size,
  };
}
