// The strict RTU slave, byte for byte, over a real socat pty and over TCP carrying raw RTU.
import { test, after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';
import { SimRoom } from '../../simulator/room.js';
import type { SimUnitConfig } from '../../simulator/config.js';
import { RtuFrameAssembler } from '../../simulator/rtu-slave.js';
import { encodeRtuRequest } from '../../protocols/modbus/rtu.js';
import { crcOk, withCrc } from '../../protocols/modbus/crc.js';
import { openSerialMaster, openTcpMaster, regs, waitFor, type RawMaster } from './helpers.js';

const units: SimUnitConfig[] = [
  { unit: 3, model: 'lw485-washer', loadCell: true },
  { unit: 9, model: 'lw485-dryer' },
  { unit: 20, model: 'rio8', channels: [{ coinCents: 50, coinsPerCycle: 7, cycleMinutes: 30 }] },
];

test('assembler: sizes by function code, slides past noise, drops bad CRC, ends unknown codes at the gap', () => {
  const a = new RtuFrameAssembler();
  const good = encodeRtuRequest(3, { fc: 4, address: 16, quantity: 14 });
  const bad = Buffer.from(good);
  bad[5] = 0x0f;
  const wr = encodeRtuRequest(3, { fc: 16, address: 256, values: [1, 1, 2, 350, 0] });
  const frames = a.push(Buffer.concat([Buffer.from([0xff, 0x00, 0x13]), bad, good.subarray(0, 3)]));
  assert.deepEqual(frames, []);
  assert.deepEqual(a.push(Buffer.concat([good.subarray(3), wr])), [good, wr]);
  const diag = withCrc(Buffer.from([3, 0x2b, 0x0e, 0x01, 0x00]));
  assert.deepEqual(a.push(diag), []);
  assert.deepEqual(a.idle(), [diag]);
  assert.deepEqual(a.push(Buffer.from([3, 16, 1, 0, 0])), []);
  assert.deepEqual(a.idle(), [], 'an incomplete frame is noise at the gap');
  assert.equal(a.pending, 0);
});

let pty: PtyPair;
let room: SimRoom;
let serial: { master: RawMaster; close(): Promise<void> };

before(async () => {
  pty = await openPtyPair();
  room = new SimRoom({ units, timeScale: 60, replyDelayMs: 2 });
  room.start();
  await room.attachSerial({ path: pty.b, baudRate: 19200, parity: 'even', stopBits: 1 });
  serial = await openSerialMaster(pty.a);
});

after(async () => {
  await serial.close();
  await room.close();
  await pty.close();
});

test('pty: status block read with a real CRC', async () => {
  const m = serial.master;
  const r = regs(await m.request(3, { fc: 4, address: 0, quantity: 6 }));
  assert.deepEqual(r, [0x5701, 0x0103, 20_250_003 >>> 16, 20_250_003 & 0xffff, 80, 6]);
  const ex = await m.request(3, { fc: 4, address: 40, quantity: 1 });
  assert.deepEqual(ex, { kind: 'exception', fc: 4, code: 2 });
});

test('pty: a bad-CRC request, another unit and broadcast are ignored; the next good request is answered first', async () => {
  const m = serial.master;
  const good = encodeRtuRequest(3, { fc: 4, address: 16, quantity: 14 });
  const bad = Buffer.from(encodeRtuRequest(3, { fc: 4, address: 0, quantity: 1 }));
  bad[bad.length - 1] = (bad.readUInt8(bad.length - 1) ^ 0x55) & 0xff;
  m.write(bad);
  m.write(encodeRtuRequest(99, { fc: 4, address: 0, quantity: 1 }));
  m.write(encodeRtuRequest(0, { fc: 6, address: 256, value: 7 }));
  m.write(good);
  const reply = await m.take(5 + 28);
  assert.equal(reply[0], 3);
  assert.equal(reply[1], 4);
  assert.equal(reply[2], 28, 'the first reply on the line answers the good request');
  assert.ok(crcOk(reply));
  assert.deepEqual(regs(await m.request(3, { fc: 3, address: 256, quantity: 1 })), [0], 'the broadcast write did nothing');
});

test('pty: noise before a request is skipped; unknown function codes get exception 01', async () => {
  const m = serial.master;
  m.write(Buffer.from([0x00, 0xff, 0x03]));
  assert.equal(regs(await m.request(9, { fc: 4, address: 0, quantity: 1 }))[0], 0x4401);
  m.write(withCrc(Buffer.from([3, 0x2b, 0x0e, 0x01, 0x00])));
  const ex = await m.take(5);
  assert.deepEqual([...ex.subarray(0, 3)], [3, 0xab, 1]);
  assert.ok(crcOk(ex));
  assert.deepEqual(await m.request(20, { fc: 4, address: 0, quantity: 1 }), { kind: 'exception', fc: 4, code: 1 });
});

test('pty: wire faults — corrupt, dropped (but executed), late, garbage, offline', async () => {
  const m = serial.master;
  room.control.corruptReplies(3, 1);
  m.write(encodeRtuRequest(3, { fc: 4, address: 16, quantity: 1 }));
  const c = await m.take(7);
  assert.equal(c[0], 3);
  assert.equal(crcOk(c), false, 'CRC fails');
  room.control.dropReplies(3, 1);
  m.write(encodeRtuRequest(3, { fc: 16, address: 256, values: [42, 1, 2, 350, 0] }));
  await waitFor('the dropped command to execute', () => room.control.lw485(3).lastSeq === 42);
  assert.equal(m.rx.length, 0, 'no reply came');
  assert.equal(room.control.lw485(3).stateName, 'CREDITED');
  room.control.delayReplies(3, 100, 1);
  m.write(encodeRtuRequest(3, { fc: 4, address: 24, quantity: 2 }));
  const late = await m.take(9);
  assert.ok(crcOk(late));
  assert.deepEqual([late.readUInt16BE(3), late.readUInt16BE(5)], [42, 1]);
  room.control.garbage(3, Buffer.from([0xde, 0xad]));
  m.write(encodeRtuRequest(3, { fc: 4, address: 16, quantity: 1 }));
  const g = await m.take(9);
  assert.deepEqual([...g.subarray(0, 2)], [0xde, 0xad]);
  assert.ok(crcOk(g.subarray(2)));
  room.control.setOffline(3, true);
  m.write(encodeRtuRequest(3, { fc: 4, address: 16, quantity: 1 }));
  assert.equal(regs(await m.request(9, { fc: 4, address: 16, quantity: 1 }))[0], 0, 'the next unit answers, unit 3 stays silent');
  assert.equal(m.rx.length, 0);
  room.control.setOffline(3, false);
  assert.equal(regs(await m.request(3, { fc: 4, address: 16, quantity: 1 }))[0], 1);
});

test('pty: the simulator survives the adapter being unplugged and answers again after replug', async () => {
  await serial.close();
  await pty.unplug();
  await pty.replug();
  serial = await openSerialMaster(pty.a);
  // Until the simulator has reopened its end, requests go nowhere: repeat one now and then.
  const m = serial.master;
  const until = Date.now() + 10_000;
  while (m.rx.length < 7) {
    if (Date.now() > until) throw new Error('no answer after replug');
    m.write(encodeRtuRequest(9, { fc: 4, address: 0, quantity: 1 }));
    await waitFor('a reply', () => m.rx.length >= 7, 300).catch(() => undefined);
  }
  const r = await m.take(7);
  assert.ok(crcOk(r));
  assert.equal(r.readUInt16BE(3), 0x4401);
});

test('TCP with raw RTU framing: a serial-to-Ethernet converter', async () => {
  const { port } = await room.listenTcp({ port: 0, framing: 'rtu' });
  const tcp = await openTcpMaster(port);
  try {
    const m = tcp.master;
    const bad = Buffer.from(encodeRtuRequest(3, { fc: 4, address: 0, quantity: 1 }));
    bad[2] = 0x01;
    m.write(bad);
    m.write(encodeRtuRequest(50, { fc: 4, address: 0, quantity: 1 }));
    assert.equal(regs(await m.request(3, { fc: 4, address: 0, quantity: 1 }))[0], 0x5701);
    assert.deepEqual(regs(await m.request(20, { fc: 3, address: 0, quantity: 2 })), [0x5208, 0x0200]);
  } finally {
    await tcp.close();
  }
});

test('paced replies (paceBaud) still arrive whole and correct', async () => {
  const paced = new SimRoom({ units, replyDelayMs: 0, paceBaud: { baudRate: 9600, dataBits: 8, parity: 'even', stopBits: 1 } });
  const { port } = await paced.listenTcp({ port: 0, framing: 'rtu' });
  const tcp = await openTcpMaster(port);
  try {
    assert.equal(regs(await tcp.master.request(3, { fc: 4, address: 16, quantity: 14 })).length, 14);
  } finally {
    await tcp.close();
    await paced.close();
  }
});

test('the shipped demo config validates', async () => {
  const { loadConfigFile } = await import('../../gateway/config/load.js');
  const { simConfigSchema } = await import('../../simulator/config.js');
  const r = loadConfigFile(fileURLToPath(new URL('../../simulator/demo-room.json', import.meta.url)), simConfigSchema);
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
});
