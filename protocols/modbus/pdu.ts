// Modbus application PDUs for the function codes our devices speak (01 02 03 04 05 06 16).
// Pure codecs: bytes in, typed values out, and back. Both the bus master and the simulator's
// strict slave use them, so one definition of the wire format serves both sides.

export type ReadFc = 1 | 2 | 3 | 4;

export type ModbusRequest =
  | { fc: 1 | 2; address: number; quantity: number }
  | { fc: 3 | 4; address: number; quantity: number }
  | { fc: 5; address: number; value: boolean }
  | { fc: 6; address: number; value: number }
  | { fc: 16; address: number; values: number[] };

export type ModbusReply =
  | { kind: 'bits'; fc: 1 | 2; bits: boolean[] }
  | { kind: 'registers'; fc: 3 | 4; registers: number[] }
  | { kind: 'coil-written'; fc: 5; address: number; value: boolean }
  | { kind: 'register-written'; fc: 6; address: number; value: number }
  | { kind: 'registers-written'; fc: 16; address: number; quantity: number }
  | { kind: 'exception'; fc: number; code: number };

export const ExceptionCode = {
  IllegalFunction: 1,
  IllegalDataAddress: 2,
  IllegalDataValue: 3,
  ServerDeviceFailure: 4,
  Acknowledge: 5,
  ServerDeviceBusy: 6,
} as const;

export const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
};

/** Modbus limits per request (Modbus Application Protocol v1.1b3, 6.1-6.12). */
export const LIMITS = { bits: 2000, readRegisters: 125, writeRegisters: 123 } as const;

export class PduError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PduError';
  }
}

function u16(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new PduError(`${what} ${n} is not a 16-bit unsigned integer`);
  return n;
}

/** Big-endian 16-bit word at `at`: the register layout of every Modbus field. */
export function word(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
}

function putWord(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 8;
  b[at + 1] = v & 0xff;
}

/**
 * Throws the PduError encodeRequestPdu would, without building the PDU: the bus checks a request
 * when it is queued and encodes it once, when it goes on the wire.
 */
export function checkRequest(req: ModbusRequest): void {
  switch (req.fc) {
    case 1:
    case 2:
    case 3:
    case 4: {
      const max = req.fc <= 2 ? LIMITS.bits : LIMITS.readRegisters;
      if (!Number.isInteger(req.quantity) || req.quantity < 1 || req.quantity > max) {
        throw new PduError(`quantity ${req.quantity} out of 1..${max} for function ${req.fc}`);
      }
      u16(req.address, 'address');
      return;
    }
    case 5:
      u16(req.address, 'address');
      return;
    case 6:
      u16(req.address, 'address');
      u16(req.value, 'value');
      return;
    case 16: {
      const n = req.values.length;
      if (n < 1 || n > LIMITS.writeRegisters) throw new PduError(`quantity ${n} out of 1..${LIMITS.writeRegisters} for function 16`);
      u16(req.address, 'address');
      req.values.forEach((v, i) => u16(v, `value[${i}]`));
      return;
    }
  }
}

/** Bytes of the request PDU of `req`. */
export function requestPduLength(req: ModbusRequest): number {
  return req.fc === 16 ? 6 + 2 * req.values.length : 5;
}

/**
 * Writes the request PDU into `b` at `at` (requestPduLength(req) bytes), checked as
 * encodeRequestPdu: the framings build their whole frame in one buffer, no PDU copied into it.
 */
export function writeRequestPdu(req: ModbusRequest, b: Uint8Array, at: number): void {
  checkRequest(req);
  b[at] = req.fc;
  putWord(b, at + 1, req.address);
  switch (req.fc) {
    case 1:
    case 2:
    case 3:
    case 4:
      putWord(b, at + 3, req.quantity);
      return;
    case 5:
      putWord(b, at + 3, req.value ? 0xff00 : 0x0000);
      return;
    case 6:
      putWord(b, at + 3, req.value);
      return;
    case 16: {
      const n = req.values.length;
      putWord(b, at + 3, n);
      b[at + 5] = 2 * n;
      for (let i = 0; i < n; i++) putWord(b, at + 6 + 2 * i, req.values[i] ?? 0);
      return;
    }
  }
}

export function encodeRequestPdu(req: ModbusRequest): Buffer {
  const b = Buffer.allocUnsafe(requestPduLength(req));
  writeRequestPdu(req, b, 0);
  return b;
}

/** Length in bytes of the normal (non-exception) reply PDU to `req`. */
export function replyPduLength(req: ModbusRequest): number {
  switch (req.fc) {
    case 1:
    case 2:
      return 2 + Math.ceil(req.quantity / 8);
    case 3:
    case 4:
      return 2 + 2 * req.quantity;
    case 5:
    case 6:
    case 16:
      return 5;
  }
}

/**
 * Decodes a reply PDU and checks it against the request it answers: function code, byte count,
 * and the echoed address/value/quantity. Anything that does not match is a PduError, so a reply
 * that belongs to another request is never taken for this one's answer.
 */
export function decodeReplyPdu(req: ModbusRequest, pdu: Uint8Array): ModbusReply {
  // Bytes read by index, not through Buffer's readUInt*: under --lite-mode each of those calls
  // allocates (its argument check's wrapper), and this runs for every register of every poll.
  if (pdu.length < 2) throw new PduError(`reply PDU too short (${pdu.length} bytes)`);
  const fc = pdu[0] ?? 0;
  if (fc === (req.fc | 0x80)) {
    if (pdu.length !== 2) throw new PduError(`exception reply of ${pdu.length} bytes, expected 2`);
    return { kind: 'exception', fc: req.fc, code: pdu[1] ?? 0 };
  }
  if (fc !== req.fc) throw new PduError(`reply function ${fc} does not match request function ${req.fc}`);
  const expected = replyPduLength(req);
  if (pdu.length !== expected) throw new PduError(`reply PDU of ${pdu.length} bytes, expected ${expected}`);
  switch (req.fc) {
    case 1:
    case 2: {
      const count = pdu[1] ?? 0;
      if (count !== expected - 2) throw new PduError(`byte count ${count}, expected ${expected - 2}`);
      const bits = new Array<boolean>(req.quantity);
      for (let i = 0; i < req.quantity; i++) bits[i] = (((pdu[2 + (i >> 3)] ?? 0) >> (i & 7)) & 1) === 1;
      return { kind: 'bits', fc: req.fc, bits };
    }
    case 3:
    case 4: {
      const count = pdu[1] ?? 0;
      if (count !== 2 * req.quantity) throw new PduError(`byte count ${count}, expected ${2 * req.quantity}`);
      const registers = new Array<number>(req.quantity);
      for (let i = 0; i < req.quantity; i++) registers[i] = word(pdu, 2 + 2 * i);
      return { kind: 'registers', fc: req.fc, registers };
    }
    case 5: {
      const address = word(pdu, 1);
      const raw = word(pdu, 3);
      if (address !== req.address || raw !== (req.value ? 0xff00 : 0)) throw new PduError('write-coil echo does not match the request');
      return { kind: 'coil-written', fc: 5, address, value: req.value };
    }
    case 6: {
      const address = word(pdu, 1);
      const value = word(pdu, 3);
      if (address !== req.address || value !== req.value) throw new PduError('write-register echo does not match the request');
      return { kind: 'register-written', fc: 6, address, value };
    }
    case 16: {
      const address = word(pdu, 1);
      const quantity = word(pdu, 3);
      if (address !== req.address || quantity !== req.values.length) throw new PduError('write-registers echo does not match the request');
      return { kind: 'registers-written', fc: 16, address, quantity };
    }
  }
}

/** Slave side: a request PDU as received. `unsupported` carries a function code we do not decode. */
export type DecodedRequest = { ok: true; request: ModbusRequest } | { ok: false; fc: number; exception: number; reason: string };

export function decodeRequestPdu(pdu: Buffer): DecodedRequest {
  if (pdu.length < 1) return { ok: false, fc: 0, exception: ExceptionCode.IllegalFunction, reason: 'empty PDU' };
  const fc = pdu.readUInt8(0);
  const bad = (exception: number, reason: string): DecodedRequest => ({ ok: false, fc, exception, reason });
  switch (fc) {
    case 1:
    case 2:
    case 3:
    case 4: {
      if (pdu.length !== 5) return bad(ExceptionCode.IllegalDataValue, `function ${fc} PDU of ${pdu.length} bytes`);
      const address = pdu.readUInt16BE(1);
      const quantity = pdu.readUInt16BE(3);
      const max = fc <= 2 ? LIMITS.bits : LIMITS.readRegisters;
      if (quantity < 1 || quantity > max) return bad(ExceptionCode.IllegalDataValue, `quantity ${quantity}`);
      return { ok: true, request: { fc, address, quantity } };
    }
    case 5: {
      if (pdu.length !== 5) return bad(ExceptionCode.IllegalDataValue, `function 5 PDU of ${pdu.length} bytes`);
      const raw = pdu.readUInt16BE(3);
      if (raw !== 0xff00 && raw !== 0) return bad(ExceptionCode.IllegalDataValue, `coil value 0x${raw.toString(16)}`);
      return { ok: true, request: { fc: 5, address: pdu.readUInt16BE(1), value: raw === 0xff00 } };
    }
    case 6: {
      if (pdu.length !== 5) return bad(ExceptionCode.IllegalDataValue, `function 6 PDU of ${pdu.length} bytes`);
      return { ok: true, request: { fc: 6, address: pdu.readUInt16BE(1), value: pdu.readUInt16BE(3) } };
    }
    case 16: {
      if (pdu.length < 6) return bad(ExceptionCode.IllegalDataValue, `function 16 PDU of ${pdu.length} bytes`);
      const quantity = pdu.readUInt16BE(3);
      const count = pdu.readUInt8(5);
      if (quantity < 1 || quantity > LIMITS.writeRegisters || count !== 2 * quantity || pdu.length !== 6 + count) {
        return bad(ExceptionCode.IllegalDataValue, `function 16 quantity ${quantity} byte count ${count}`);
      }
      const values: number[] = [];
      for (let i = 0; i < quantity; i++) values.push(pdu.readUInt16BE(6 + 2 * i));
      return { ok: true, request: { fc: 16, address: pdu.readUInt16BE(1), values } };
    }
    default:
      return bad(ExceptionCode.IllegalFunction, `function ${fc} not supported`);
  }
}

export function encodeReplyPdu(reply: ModbusReply): Buffer {
  switch (reply.kind) {
    case 'exception':
      return Buffer.from([reply.fc | 0x80, reply.code]);
    case 'bits': {
      const n = Math.ceil(reply.bits.length / 8);
      const b = Buffer.alloc(2 + n);
      b[0] = reply.fc;
      b[1] = n;
      reply.bits.forEach((bit, i) => {
        if (bit) b[2 + (i >> 3)] = (b.readUInt8(2 + (i >> 3)) | (1 << (i & 7))) & 0xff;
      });
      return b;
    }
    case 'registers': {
      const b = Buffer.allocUnsafe(2 + 2 * reply.registers.length);
      b[0] = reply.fc;
      b[1] = 2 * reply.registers.length;
      reply.registers.forEach((r, i) => b.writeUInt16BE(r & 0xffff, 2 + 2 * i));
      return b;
    }
    case 'coil-written': {
      const b = Buffer.allocUnsafe(5);
      b[0] = 5;
      b.writeUInt16BE(reply.address, 1);
      b.writeUInt16BE(reply.value ? 0xff00 : 0, 3);
      return b;
    }
    case 'register-written': {
      const b = Buffer.allocUnsafe(5);
      b[0] = 6;
      b.writeUInt16BE(reply.address, 1);
      b.writeUInt16BE(reply.value, 3);
      return b;
    }
    case 'registers-written': {
      const b = Buffer.allocUnsafe(5);
      b[0] = 16;
      b.writeUInt16BE(reply.address, 1);
      b.writeUInt16BE(reply.quantity, 3);
      return b;
    }
  }
}

export function describeRequest(req: ModbusRequest): string {
  switch (req.fc) {
    case 1:
    case 2:
    case 3:
    case 4:
      return `fc${req.fc} read ${req.address}+${req.quantity}`;
    case 5:
      return `fc5 write coil ${req.address}=${req.value ? 'on' : 'off'}`;
    case 6:
      return `fc6 write ${req.address}=${req.value}`;
    case 16:
      return `fc16 write ${req.address}+${req.values.length}`;
  }
}
