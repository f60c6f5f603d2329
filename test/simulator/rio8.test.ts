import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rio8, type Rio8Options } from '../../simulator/rio8.js';
import { SimActionError } from '../../simulator/errors.js';
import type { ModbusReply } from '../../protocols/modbus/pdu.js';

const opts: Rio8Options = {
  channels: [{ coinCents: 50, coinsPerCycle: 7, cycleMinutes: 30 }, { coinCents: 50, coinsPerCycle: 4, cycleMinutes: 25 }, null],
};
const regs = (r: ModbusReply): number[] => {
  assert.equal(r.kind, 'registers', JSON.stringify(r));
  return r.kind === 'registers' ? r.registers : [];
};
const bits = (r: ModbusReply): boolean[] => {
  assert.equal(r.kind, 'bits', JSON.stringify(r));
  return r.kind === 'bits' ? r.bits : [];
};
const read = (m: Rio8, address: number, quantity = 1): number[] => regs(m.handle({ fc: 3, address, quantity }));
const inUse = (m: Rio8): boolean[] => bits(m.handle({ fc: 2, address: 0, quantity: 8 }));
const pulses = (m: Rio8, ch: number, n: number): ModbusReply => m.handle({ fc: 6, address: 16 + ch, value: n });

test('identity, defaults and the address map', () => {
  const m = new Rio8(opts);
  assert.deepEqual(read(m, 0, 2), [0x5208, 0x0200]);
  assert.deepEqual(read(m, 16, 8), new Array(8).fill(0));
  assert.deepEqual(read(m, 32, 2), [60, 60]);
  assert.deepEqual(read(m, 48, 8), new Array(8).fill(0));
  for (const [a, q] of [[2, 1], [1, 2], [24, 1], [15, 2], [34, 1], [56, 1], [0, 60]]) {
    assert.deepEqual(m.handle({ fc: 3, address: a ?? 0, quantity: q ?? 1 }), { kind: 'exception', fc: 3, code: 2 }, `read ${a}+${q}`);
  }
  assert.deepEqual(m.handle({ fc: 4, address: 0, quantity: 1 }), { kind: 'exception', fc: 4, code: 1 });
  assert.deepEqual(m.handle({ fc: 16, address: 16, values: [1] }), { kind: 'exception', fc: 16, code: 1 });
  assert.deepEqual(m.handle({ fc: 2, address: 7, quantity: 2 }), { kind: 'exception', fc: 2, code: 2 });
  assert.deepEqual(m.handle({ fc: 1, address: 8, quantity: 1 }), { kind: 'exception', fc: 1, code: 2 });
  assert.deepEqual(m.handle({ fc: 5, address: 8, value: true }), { kind: 'exception', fc: 5, code: 2 });
  for (const a of [0, 1, 48, 55, 2, 40]) assert.deepEqual(m.handle({ fc: 6, address: a, value: 1 }), { kind: 'exception', fc: 6, code: 2 }, `write ${a}`);
});

test('pulse times: 20..500 ms, else exception 03', () => {
  const m = new Rio8(opts);
  assert.deepEqual(m.handle({ fc: 6, address: 32, value: 19 }), { kind: 'exception', fc: 6, code: 3 });
  assert.deepEqual(m.handle({ fc: 6, address: 33, value: 501 }), { kind: 'exception', fc: 6, code: 3 });
  assert.equal(m.handle({ fc: 6, address: 32, value: 20 }).kind, 'register-written');
  assert.equal(m.handle({ fc: 6, address: 33, value: 500 }).kind, 'register-written');
  assert.deepEqual(read(m, 32, 2), [20, 500]);
});

test('a pulse train is timed by the module: pending count, counter, busy 06 until the last gap ends', () => {
  const m = new Rio8(opts);
  assert.deepEqual(pulses(m, 0, 0), { kind: 'exception', fc: 6, code: 3 });
  assert.deepEqual(pulses(m, 0, 51), { kind: 'exception', fc: 6, code: 3 });
  assert.deepEqual(pulses(m, 0, 3), { kind: 'register-written', fc: 6, address: 16, value: 3 });
  assert.deepEqual(read(m, 16), [3]);
  assert.equal(m.snapshot().channels[0]?.contactClosed, true);
  m.advance(60);
  assert.deepEqual([read(m, 16)[0], read(m, 48)[0]], [2, 1], 'one pulse sent when its contact opens');
  assert.deepEqual(pulses(m, 0, 1), { kind: 'exception', fc: 6, code: 6 });
  m.advance(60 + 120 + 60);
  assert.deepEqual([read(m, 16)[0], read(m, 48)[0]], [0, 3]);
  assert.deepEqual(pulses(m, 0, 1), { kind: 'exception', fc: 6, code: 6 }, 'the last off gap still belongs to the train');
  m.advance(59);
  assert.deepEqual(pulses(m, 0, 1), { kind: 'exception', fc: 6, code: 6 });
  m.advance(1);
  assert.equal(pulses(m, 0, 1).kind, 'register-written');
  assert.equal(pulses(m, 1, 2).kind, 'register-written', 'channels are independent');
  m.advance(1000);
  assert.deepEqual(read(m, 48, 3), [4, 2, 0]);
  assert.equal(m.snapshot().channels[0]?.machine?.coins, 4);
});

test('pulse times apply from the next train', () => {
  const m = new Rio8(opts);
  pulses(m, 0, 2);
  m.handle({ fc: 6, address: 32, value: 200 });
  m.advance(240);
  assert.equal(read(m, 48)[0], 2, 'the running train kept 60/60');
  pulses(m, 0, 1);
  m.advance(199);
  assert.equal(read(m, 48)[0], 2);
  m.advance(1);
  assert.equal(read(m, 48)[0], 3);
});

test('the pulse counter wraps at 65536', () => {
  const m = new Rio8({ ...opts, pulseCounterStart: 65534 });
  pulses(m, 2, 5);
  m.advance(10_000);
  assert.deepEqual(read(m, 50), [3]);
  const full = new Rio8(opts);
  for (let i = 0; i < 1311; i++) {
    assert.equal(pulses(full, 2, 50).kind, 'register-written');
    full.advance(50 * 120);
  }
  assert.deepEqual(read(full, 50), [(1311 * 50) % 65536]);
});

test('a coin machine accumulates coins, waits for Start, runs with "in use" lit, loses coins meanwhile', () => {
  const m = new Rio8(opts);
  pulses(m, 0, 9);
  m.advance(9 * 120);
  let s = m.snapshot().channels[0]?.machine;
  assert.deepEqual([s?.coins, s?.creditCents, s?.ready, s?.inUse], [9, 450, true, false]);
  assert.deepEqual(inUse(m), new Array(8).fill(false), 'waits for Start');
  assert.throws(() => m.pressStart(1), SimActionError, 'channel 1 has no coins');
  assert.throws(() => m.pressStart(2), SimActionError, 'no machine on channel 2');
  m.pressStart(0);
  assert.deepEqual(inUse(m).slice(0, 2), [true, false]);
  s = m.snapshot().channels[0]?.machine;
  assert.deepEqual([s?.coins, s?.cycles, s?.remainingSec], [2, 1, 1800], 'surplus coins kept for the next cycle');
  pulses(m, 0, 3);
  m.advance(1000);
  s = m.snapshot().channels[0]?.machine;
  assert.deepEqual([s?.coins, s?.coinsLost], [2, 3], 'coins sent while running are lost');
  assert.equal(read(m, 48)[0], 12, 'the module counted them all the same');
  m.advance(30 * 60_000);
  assert.equal(inUse(m)[0], false);
  assert.throws(() => m.pressStart(0), SimActionError, '2 of 7 coins');
});

test('direct relay control: coils read back; a closure that opens again is one coin', () => {
  const m = new Rio8(opts);
  assert.deepEqual(m.handle({ fc: 5, address: 1, value: true }), { kind: 'coil-written', fc: 5, address: 1, value: true });
  assert.deepEqual(bits(m.handle({ fc: 1, address: 0, quantity: 3 })), [false, true, false]);
  m.handle({ fc: 5, address: 1, value: false });
  assert.equal(m.snapshot().channels[1]?.machine?.coins, 1);
  assert.equal(read(m, 49)[0], 0, 'direct closures are not train pulses');
});

test('power-up: machines keep their coins and cycles; the module restarts from defaults', () => {
  const m = new Rio8(opts);
  m.handle({ fc: 6, address: 33, value: 100 });
  pulses(m, 1, 5);
  m.advance(5 * 160);
  m.pressStart(1);
  pulses(m, 0, 3);
  m.advance(60);
  const back = new Rio8(opts, JSON.parse(JSON.stringify(m.toJSON())));
  assert.deepEqual(read(back, 32, 2), [60, 60]);
  assert.deepEqual(read(back, 48, 2), [0, 0], 'counters count from power-up');
  assert.deepEqual(read(back, 16, 2), [0, 0], 'a train in flight is lost');
  const c1 = back.snapshot().channels[1]?.machine;
  assert.deepEqual([c1?.coins, c1?.inUse, c1?.remainingSec], [1, true, 1500]);
  assert.equal(back.snapshot().channels[0]?.machine?.coins, 1);
});
