import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc16, crcOk, withCrc } from '../../protocols/modbus/crc.js';
import { checkRequest, decodeReplyPdu, decodeRequestPdu, encodeReplyPdu, encodeRequestPdu, PduError, type ModbusRequest } from '../../protocols/modbus/pdu.js';
import { encodeRtuRequest, rtuRequestLength, scanRtuReply } from '../../protocols/modbus/rtu.js';
import { encodeMbap, encodeMbapRequest, scanMbap } from '../../protocols/modbus/tcp.js';
import { exchangeWireTime, t35 } from '../../protocols/modbus/timing.js';

test('CRC-16/MODBUS matches the published check value and a known frame', () => {
  assert.equal(crc16(Buffer.from('123456789', 'ascii')), 0x4b37);
  assert.equal(encodeRtuRequest(1, { fc: 3, address: 0, quantity: 10 }).toString('hex'), '01030000000ac5cd');
  assert.ok(crcOk(Buffer.from('01030000000ac5cd', 'hex')));
  assert.ok(!crcOk(Buffer.from('01030000000ac5ce', 'hex')));
});

test('reply scan: incomplete, whole, exception, wrong unit, wrong byte count, bad CRC', () => {
  const req = { fc: 4, address: 16, quantity: 2 } as const;
  const pdu = encodeReplyPdu({ kind: 'registers', fc: 4, registers: [1, 0x1234] });
  const frame = Buffer.concat([Buffer.from([7]), pdu]);
  const full = Buffer.alloc(frame.length + 2);
  frame.copy(full);
  full.writeUInt16LE(crc16(frame), frame.length);
  assert.equal(scanRtuReply(7, req, full.subarray(0, 4)).status, 'incomplete');
  const ok = scanRtuReply(7, req, full);
  assert.equal(ok.status, 'frame');
  if (ok.status === 'frame') assert.deepEqual(decodeReplyPdu(req, ok.pdu), { kind: 'registers', fc: 4, registers: [1, 0x1234] });
  assert.deepEqual(scanRtuReply(8, req, full), { status: 'bad', reason: 'unit', detail: 'reply from unit 7, expected 8' });
  const badCount = Buffer.from(full);
  badCount[2] = 6;
  assert.equal(scanRtuReply(7, req, badCount).status, 'bad');
  const badCrc = Buffer.from(full);
  badCrc[badCrc.length - 1] = (badCrc.readUInt8(badCrc.length - 1) ^ 0xff) & 0xff;
  const scan = scanRtuReply(7, req, badCrc);
  assert.equal(scan.status === 'bad' && scan.reason, 'crc');
  const exc = Buffer.from([7, 0x84, 2, 0, 0]);
  exc.writeUInt16LE(crc16(exc, 0, 3), 3);
  const e = scanRtuReply(7, req, exc);
  assert.equal(e.status, 'frame');
  if (e.status === 'frame') assert.deepEqual(decodeReplyPdu(req, e.pdu), { kind: 'exception', fc: 4, code: 2 });
});

test('a reply whose echo does not match the request is refused', () => {
  assert.throws(() => decodeReplyPdu({ fc: 6, address: 256, value: 5 }, Buffer.from([6, 1, 0, 0, 6])), PduError);
});

test('request decode and length', () => {
  const f = encodeRtuRequest(3, { fc: 16, address: 256, values: [1, 1, 2, 350, 0] });
  assert.equal(rtuRequestLength(f), f.length);
  const d = decodeRequestPdu(f.subarray(1, f.length - 2));
  assert.deepEqual(d, { ok: true, request: { fc: 16, address: 256, values: [1, 1, 2, 350, 0] } });
  assert.equal(decodeRequestPdu(Buffer.from([43, 14, 1, 0])).ok, false);
});

test('wire time of the LW-485 status read at 19200 8E1 is about 27.5 ms', () => {
  const f = { baudRate: 19200, dataBits: 8, parity: 'even', stopBits: 1 } as const;
  assert.ok(Math.abs(t35(f) - 0.002005) < 1e-5);
  const t = exchangeWireTime(f, 8, 33);
  assert.ok(t > 0.0274 && t < 0.0276, String(t));
});

// The frames are built in one buffer and read by index (no Buffer.readUInt*/writeUInt*, no PDU
// copied): the same bytes and the same refusals as composing them from their parts.
const requestArb: fc.Arbitrary<ModbusRequest> = fc.oneof(
  fc.record({ fc: fc.constantFrom(1 as const, 2 as const), address: fc.integer({ min: -1, max: 0x10000 }), quantity: fc.integer({ min: 0, max: 2001 }) }),
  fc.record({ fc: fc.constantFrom(3 as const, 4 as const), address: fc.integer({ min: -1, max: 0x10000 }), quantity: fc.integer({ min: 0, max: 126 }) }),
  fc.record({ fc: fc.constant(5 as const), address: fc.integer({ min: -1, max: 0x10000 }), value: fc.boolean() }),
  fc.record({ fc: fc.constant(6 as const), address: fc.integer({ min: -1, max: 0x10000 }), value: fc.integer({ min: -1, max: 0x10000 }) }),
  fc.record({ fc: fc.constant(16 as const), address: fc.integer({ min: -1, max: 0x10000 }), values: fc.array(fc.integer({ min: -1, max: 0x10000 }), { maxLength: 124 }) }),
);

const thrown = (f: () => unknown): string | null => {
  try {
    f();
    return null;
  } catch (e) {
    return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
};

/** The PDU as it was built before, field by field through Buffer's own writers. */
function referencePdu(req: ModbusRequest): Buffer {
  const u16 = (n: number, what: string): number => {
    if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new PduError(`${what} ${n} is not a 16-bit unsigned integer`);
    return n;
  };
  switch (req.fc) {
    case 1:
    case 2:
    case 3:
    case 4: {
      const max = req.fc <= 2 ? 2000 : 125;
      if (!Number.isInteger(req.quantity) || req.quantity < 1 || req.quantity > max) throw new PduError(`quantity ${req.quantity} out of 1..${max} for function ${req.fc}`);
      const b = Buffer.alloc(5);
      b[0] = req.fc;
      b.writeUInt16BE(u16(req.address, 'address'), 1);
      b.writeUInt16BE(req.quantity, 3);
      return b;
    }
    case 5:
    case 6: {
      const b = Buffer.alloc(5);
      b[0] = req.fc;
      b.writeUInt16BE(u16(req.address, 'address'), 1);
      b.writeUInt16BE(req.fc === 5 ? (req.value ? 0xff00 : 0) : u16(req.value, 'value'), 3);
      return b;
    }
    case 16: {
      const n = req.values.length;
      if (n < 1 || n > 123) throw new PduError(`quantity ${n} out of 1..123 for function 16`);
      const b = Buffer.alloc(6 + 2 * n);
      b[0] = 16;
      b.writeUInt16BE(u16(req.address, 'address'), 1);
      b.writeUInt16BE(n, 3);
      b[5] = 2 * n;
      req.values.forEach((v, i) => b.writeUInt16BE(u16(v, `value[${i}]`), 6 + 2 * i));
      return b;
    }
  }
}

test('requests: checked and encoded in one buffer, byte for byte as composed from their parts', () => {
  fc.assert(
    fc.property(requestArb, fc.integer({ min: 1, max: 247 }), fc.integer({ min: 0, max: 0xffff }), (req, unit, tid) => {
      const refused = thrown(() => referencePdu(req));
      assert.equal(thrown(() => checkRequest(req)), refused);
      assert.equal(thrown(() => encodeRequestPdu(req)), refused);
      if (refused !== null) {
        assert.equal(thrown(() => encodeRtuRequest(unit, req)), refused);
        assert.equal(thrown(() => encodeMbapRequest(tid, unit, req)), refused);
        return;
      }
      const pdu = referencePdu(req);
      assert.deepEqual(encodeRequestPdu(req), pdu);
      assert.deepEqual(encodeRtuRequest(unit, req), withCrc(Buffer.concat([Buffer.from([unit]), pdu])));
      assert.deepEqual(encodeMbapRequest(tid, unit, req), encodeMbap(tid, unit, pdu));
    }),
    { numRuns: 2000 },
  );
});

test('replies: decoded from a view into the received bytes, the same as from a copy', () => {
  const req = { fc: 4, address: 16, quantity: 14 } as const;
  const registers = Array.from({ length: 14 }, (_, i) => (i * 4099 + 7) & 0xffff);
  const pdu = encodeReplyPdu({ kind: 'registers', fc: 4, registers });
  const rx = Buffer.concat([encodeMbap(9, 3, pdu), Buffer.from([0xee])]);
  const scan = scanMbap(rx);
  assert.equal(scan.status, 'frame');
  if (scan.status !== 'frame') return;
  assert.equal(scan.pdu.buffer, rx.buffer, 'a view, not a copy');
  assert.deepEqual(decodeReplyPdu(req, scan.pdu), { kind: 'registers', fc: 4, registers });
  assert.deepEqual(decodeReplyPdu(req, Buffer.from(scan.pdu)), { kind: 'registers', fc: 4, registers });
  const bits = [true, false, true, true, false, false, false, true, true, false, true];
  assert.deepEqual(decodeReplyPdu({ fc: 2, address: 0, quantity: 11 }, encodeReplyPdu({ kind: 'bits', fc: 2, bits })), { kind: 'bits', fc: 2, bits });
});
