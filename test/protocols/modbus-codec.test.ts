import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc16, crcOk } from '../../protocols/modbus/crc.js';
import { decodeReplyPdu, decodeRequestPdu, encodeReplyPdu, PduError } from '../../protocols/modbus/pdu.js';
import { encodeRtuRequest, rtuRequestLength, scanRtuReply } from '../../protocols/modbus/rtu.js';
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
