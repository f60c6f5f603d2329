// Modbus TCP (MBAP header) framing: [transaction id][protocol 0][length][unit][PDU].
import type { ModbusRequest } from './pdu.js';
import { encodeRequestPdu } from './pdu.js';

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

export function encodeMbapRequest(transactionId: number, unit: number, req: ModbusRequest): Buffer {
  return encodeMbap(transactionId, unit, encodeRequestPdu(req));
}

export type MbapScan =
  | { status: 'incomplete' }
  | { status: 'frame'; transactionId: number; unit: number; pdu: Buffer; size: number }
  | { status: 'bad'; detail: string };

/** Finds the first whole MBAP frame at the start of `rx`. */
export function scanMbap(rx: Buffer): MbapScan {
  if (rx.length < MBAP_HEADER) return { status: 'incomplete' };
  const protocol = rx.readUInt16BE(2);
  const length = rx.readUInt16BE(4);
  if (protocol !== 0) return { status: 'bad', detail: `protocol id ${protocol}` };
  if (length < 2 || length > 254) return { status: 'bad', detail: `MBAP length ${length}` };
  const size = 6 + length;
  if (rx.length < size) return { status: 'incomplete' };
  return {
    status: 'frame',
    transactionId: rx.readUInt16BE(0),
    unit: rx.readUInt8(6),
    pdu: Buffer.from(rx.subarray(MBAP_HEADER, size)),
    size,
  };
}
