// Receipts: each profile turns its stored command evidence into answers about a machine state
// (admission, read-back, reconcile). Pure: fixed states, no bus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MachineState, MachineStatus } from '../../gateway/machines/state.js';
import { admitsNewVend, receiptFor } from '../../gateway/profiles/evidence.js';
import type { CommandReceipt } from '../../gateway/profiles/receipt.js';

function state(status: MachineStatus, confirm: unknown): MachineState {
  return {
    machineId: 'M', kind: 'washer', status, program: null, selectedProgram: null, remainingSec: null, door: null, faultCode: null, creditCents: null,
    sensors: { loadWeightGrams: null, waterHardnessDh: null }, confirm, observedAt: 0,
  };
}

function receipt(raw: unknown): CommandReceipt {
  const r = receiptFor(raw);
  assert.ok(r !== null, `a receipt for ${JSON.stringify(raw)}`);
  return r;
}

test('evidence no profile recognises has no receipt', () => {
  for (const raw of [null, undefined, 'x', {}, { profile: 'zz', unit: 1 }, { profile: 'lw485', unit: 1, seq: 0, code: 1 }, { profile: 'meter', unit: 1, counterBefore: 3, extra: 1 }]) {
    assert.equal(receiptFor(raw), null, JSON.stringify(raw));
  }
});

test('LW-485: last seq and result decide; ours not yet shown is pending right after the write', () => {
  const r = receipt({ profile: 'lw485', unit: 1, seq: 41, code: 1 });
  const lw = (lastSeq: number, lastResult: number, status: MachineStatus = 'credited') => state(status, { lastSeq, lastResult, cycleCounter: 9, phase: 0 });
  assert.deepEqual(r.readback(lw(41, 1)), { verdict: 'confirmed' });
  assert.deepEqual(r.readback(lw(40, 1)), { verdict: 'pending' });
  assert.deepEqual(r.readback(lw(41, 3)), { verdict: 'rejected', reason: 'credit_rejected' });
  assert.deepEqual(r.readback(lw(41, 9)), { verdict: 'unknown', detail: 'the machine did not report its last command' });
  assert.deepEqual(r.readback(state('idle', {})), { verdict: 'unknown', detail: 'the machine did not report its last command' });
  assert.deepEqual(r.reconcile(lw(41, 3)), { verdict: 'executed-rejected', reason: 'door_open', lookAgainMs: null, alert: null });
  assert.deepEqual(r.reconcile(lw(40, 1)), { verdict: 'not-executed', reason: 'credit_rejected', lookAgainMs: null, alert: null });
  assert.equal(r.verdict(lw(41, 1, 'offline')), 'unknown');
  assert.equal(r.verdict(null), 'unknown');
  assert.equal(r.admitsNewVend(lw(41, 1, 'idle')), true);
});

test('RIO-8: the counter moved by the coins; a train still running is pending, and is looked at again', () => {
  const r = receipt({ profile: 'rio8', unit: 20, channel: 0, counterBefore: 100, coins: 7 });
  const ch = (pulseCounter: number, pendingPulses: number, status: MachineStatus = 'idle') => state(status, { pulseCounter, pendingPulses });
  assert.deepEqual(r.readback(ch(107, 0)), { verdict: 'confirmed' });
  assert.deepEqual(r.readback(ch(104, 3)), { verdict: 'pending' });
  assert.deepEqual(r.readback(ch(103, 3)), { verdict: 'pending' });
  assert.deepEqual(r.readback(ch(100, 0)), { verdict: 'not-executed' });
  assert.deepEqual(r.readback(ch(103, 0)), { verdict: 'unknown', detail: 'pulse counter does not match the coins sent' });
  assert.equal(r.admitsNewVend(ch(104, 3)), false);
  assert.equal(r.admitsNewVend(ch(107, 0)), true);
  // Mid-train the two registers can disagree by a pulse: look again rather than settle.
  assert.deepEqual(r.reconcile(ch(103, 3)), { verdict: 'unknown', reason: 'credit_rejected', lookAgainMs: 100, alert: null });
  assert.deepEqual(r.reconcile(ch(103, 0)), { verdict: 'unknown', reason: 'credit_rejected', lookAgainMs: null, alert: null });
  assert.equal(r.reconcile(ch(107, 0)).verdict, 'executed-accepted');
});

test('RIO-8: a counter that restarted settles by the in-use input and raises an alert', () => {
  const r = receipt({ profile: 'rio8', unit: 20, channel: 0, counterBefore: 100, coins: 7 });
  const running = r.reconcile(state('running', { pulseCounter: 2, pendingPulses: 0 }));
  assert.equal(running.verdict, 'executed-accepted');
  assert.equal(running.alert?.code, 'rio8_counter_restarted');
  assert.match(running.alert?.message ?? '', /captured: the machine runs/);
  assert.deepEqual(running.alert?.log, { counterBefore: 100, counterNow: 2, verdict: 'executed-accepted' });
  const idle = r.reconcile(state('idle', { pulseCounter: 2, pendingPulses: 0 }));
  assert.equal(idle.verdict, 'not-executed');
  assert.match(idle.alert?.message ?? '', /refunded/);
});

test('CM-1 meter: one credit counted is the proof, across the u16 wrap', () => {
  const r = receipt({ profile: 'meter', unit: 5, counterBefore: 65535 });
  const m = (creditCounter: number, status: MachineStatus = 'running') => state(status, { creditCounter });
  assert.deepEqual(r.readback(m(0)), { verdict: 'confirmed' });
  assert.deepEqual(r.readback(m(65535, 'idle')), { verdict: 'not-executed' });
  assert.deepEqual(r.readback(m(1)), { verdict: 'unknown', detail: 'the credit counter moved by more than one credit' });
  assert.deepEqual(r.reconcile(m(0)), { verdict: 'executed-accepted', reason: 'credit_rejected', lookAgainMs: null, alert: null });
  assert.equal(r.verdict(m(0, 'offline')), 'unknown');
  assert.equal(r.verdict(state('running', { pulseCounter: 0, pendingPulses: 0 })), 'unknown', 'another profile\'s facts prove nothing');
});

test('admission by device facts: each profile judges only its own', () => {
  assert.equal(admitsNewVend(state('idle', { pulseCounter: 10, pendingPulses: 3 })), false);
  assert.equal(admitsNewVend(state('idle', { pulseCounter: 10, pendingPulses: 0 })), true);
  assert.equal(admitsNewVend(state('idle', { lastSeq: 1, lastResult: 1, cycleCounter: 0, phase: 0 })), true);
  assert.equal(admitsNewVend(state('idle', { creditCounter: 4 })), true);
  assert.equal(admitsNewVend(state('idle', {})), true);
});
