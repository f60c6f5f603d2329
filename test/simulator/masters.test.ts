// Independent masters against the simulator: mbpoll (C, libmodbus) and modbus-serial (npm), over
// a socat pty and over TCP in both framings. If our codec and the simulator agreed on a mistake,
// these would catch it.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import ModbusSerial from 'modbus-serial';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';
import { SimRoom } from '../../simulator/room.js';
import { encodeMbapRequest, scanMbap } from '../../protocols/modbus/tcp.js';
import { openTcpMaster, waitFor } from './helpers.js';
import { slow } from '../helpers/slowdown.js';

// mbpoll's reply timeout in seconds (at most 10): 3 here, more under emulation, where the
// simulator answering in the test process runs 10-16x slower.
const MBPOLL_TIMEOUT_S = String(Math.min(10, Math.ceil(slow(3000) / 1000)));

// modbus-serial is CommonJS: its module object is the client class and also its own `default`.
const ModbusRTU = ModbusSerial.default;
const run = promisify(execFile);
let pty: PtyPair;
let room: SimRoom;
let mbapPort = 0;
let rtuTcpPort = 0;

before(async () => {
  pty = await openPtyPair();
  room = new SimRoom({
    units: [
      { unit: 3, model: 'lw485-washer', serial: 0x00abcdef, loadCell: true, hardnessSensor: true },
      { unit: 9, model: 'lw485-dryer' },
      { unit: 20, model: 'rio8', channels: [{ coinCents: 50, coinsPerCycle: 7, cycleMinutes: 30 }] },
    ],
    timeScale: 3600,
    replyDelayMs: 2,
  });
  room.start();
  await room.attachSerial({ path: pty.b, baudRate: 19200, parity: 'even', stopBits: 1 });
  mbapPort = (await room.listenTcp({ port: 0, framing: 'mbap' })).port;
  rtuTcpPort = (await room.listenTcp({ port: 0, framing: 'rtu' })).port;
});

after(async () => {
  await room.close();
  await pty.close();
});

/** mbpoll prints "[addr]: \tvalue" lines. */
function parseMbpoll(out: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const line of out.split('\n')) {
    const r = /^\[(\d+)\]:\s+(-?\d+)/.exec(line);
    if (r?.[1] && r[2]) m.set(Number(r[1]), Number(r[2]));
  }
  return m;
}

test('mbpoll over the pty reads the status block and the identity (PDU addressing with -0)', async () => {
  const { stdout } = await run('mbpoll', ['-m', 'rtu', '-a', '3', '-b', '19200', '-P', 'even', '-t', '3', '-0', '-r', '16', '-c', '14', '-o', MBPOLL_TIMEOUT_S, '-1', pty.a], { timeout: slow(20_000) });
  const v = parseMbpoll(stdout);
  assert.equal(v.get(16), 0, 'IDLE');
  assert.equal(v.get(21), 1, 'door closed, unlocked');
  assert.equal(v.get(29), room.control.lw485(3).hardnessDh10);
  const id = await run('mbpoll', ['-m', 'rtu', '-a', '3', '-b', '19200', '-P', 'even', '-t', '3:hex', '-r', '1', '-c', '1', '-o', MBPOLL_TIMEOUT_S, '-1', pty.a], { timeout: slow(20_000) });
  assert.match(id.stdout, /\[1\]:\s+0x5701/, '1-based -r 1 is PDU address 0');
});

test('mbpoll over Modbus TCP reads registers and a RIO-8 input; a bad address is reported as an exception', async () => {
  const { stdout } = await run('mbpoll', ['-m', 'tcp', '-p', String(mbapPort), '-a', '3', '-t', '3', '-0', '-r', '0', '-c', '6', '-o', MBPOLL_TIMEOUT_S, '-1', '127.0.0.1'], { timeout: slow(20_000) });
  const v = parseMbpoll(stdout);
  assert.deepEqual([v.get(0), v.get(1), v.get(2), v.get(3), v.get(4), v.get(5)], [0x5701, 0x0103, 0x00ab, 0xcdef, 80, 6]);
  const rio = await run('mbpoll', ['-m', 'tcp', '-p', String(mbapPort), '-a', '20', '-t', '4', '-0', '-r', '32', '-c', '2', '-o', MBPOLL_TIMEOUT_S, '-1', '127.0.0.1'], { timeout: slow(20_000) });
  assert.deepEqual([...parseMbpoll(rio.stdout).values()], [60, 60]);
  const bad = await run('mbpoll', ['-m', 'tcp', '-p', String(mbapPort), '-a', '3', '-t', '3', '-0', '-r', '40', '-c', '1', '-o', MBPOLL_TIMEOUT_S, '-1', '127.0.0.1'], { timeout: slow(20_000) }).then(
    (r) => r.stdout + r.stderr,
    (e: unknown) => (e && typeof e === 'object' && 'stderr' in e ? String(e.stderr) + String('stdout' in e ? e.stdout : '') : String(e)),
  );
  assert.match(bad, /Illegal data address/i);
});

test('modbus-serial over the pty (buffered RTU): credit, start, watch the cycle finish', async () => {
  const client = new ModbusRTU();
  await client.connectRTUBuffered(pty.a, { baudRate: 19200, parity: 'even', stopBits: 1, dataBits: 8 });
  client.setTimeout(2000);
  client.setID(3);
  try {
    const table = await client.readHoldingRegisters(512, 8);
    assert.deepEqual(table.data.slice(0, 4), [30, 30, 100, 250]);
    await client.writeRegisters(256, [7, 1, 1, 250, 0]);
    await waitFor('CREDITED', () => room.control.lw485(3).lastSeq === 7);
    const st = await client.readInputRegisters(16, 14);
    assert.deepEqual([st.data[0], st.data[3], st.data[7], st.data[8], st.data[9]], [1, 1, 250, 7, 1]);
    room.control.pressStart(3);
    await waitFor('the 30-minute cycle to finish at 3600x', () => room.control.lw485(3).stateName === 'DONE', 10_000);
    const done = await client.readInputRegisters(16, 14);
    assert.deepEqual([done.data[0], done.data[2], done.data[11]], [4, 0, 1]);
  } finally {
    await new Promise<void>((resolve) => client.close(() => resolve()));
  }
});

test('modbus-serial over Modbus TCP: RIO-8 pulse train, counter and in-use input', async () => {
  const client = new ModbusRTU();
  await client.connectTCP('127.0.0.1', { port: mbapPort });
  client.setTimeout(2000);
  client.setID(20);
  try {
    assert.deepEqual((await client.readHoldingRegisters(0, 2)).data, [0x5208, 0x0200]);
    await client.writeRegister(16, 7);
    await assert.rejects(client.writeRegister(16, 1), (e: unknown) => typeof e === 'object' && e !== null && 'modbusCode' in e && e.modbusCode === 6);
    await waitFor('7 pulses', () => room.control.rio8(20).channels[0]?.pulseCounter === 7, 10_000);
    assert.deepEqual((await client.readHoldingRegisters(48, 1)).data, [7]);
    room.control.pressStart(20, 0);
    assert.equal((await client.readDiscreteInputs(0, 8)).data[0], true);
  } finally {
    await new Promise<void>((resolve) => client.close(() => resolve()));
  }
});

test('modbus-serial over TCP with raw RTU framing (its telnet port)', async () => {
  const client = new ModbusRTU();
  await client.connectTelnet('127.0.0.1', { port: rtuTcpPort });
  client.setTimeout(2000);
  client.setID(9);
  try {
    assert.deepEqual((await client.readInputRegisters(0, 1)).data, [0x4401]);
  } finally {
    await new Promise<void>((resolve) => client.close(() => resolve()));
  }
});

test('MBAP framing: transaction id echoed, silent for unknown units, corrupt reply is one byte short', async () => {
  const tcp = await openTcpMaster(mbapPort);
  try {
    const m = tcp.master;
    m.write(encodeMbapRequest(0x1234, 77, { fc: 4, address: 0, quantity: 1 }));
    m.write(encodeMbapRequest(0x1235, 9, { fc: 4, address: 0, quantity: 1 }));
    const f = await m.take(11);
    const scan = scanMbap(f);
    assert.equal(scan.status, 'frame');
    if (scan.status === 'frame') assert.deepEqual([scan.transactionId, scan.unit, [...scan.pdu]], [0x1235, 9, [4, 2, 0x44, 0x01]]);
    room.control.corruptReplies(9, 1);
    m.write(encodeMbapRequest(0x1236, 9, { fc: 4, address: 0, quantity: 1 }));
    const c = scanMbap(await m.take(10));
    assert.equal(c.status === 'frame' && c.pdu.length, 3);
  } finally {
    await tcp.close();
  }
});
