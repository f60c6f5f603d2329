import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stateChanges } from '../../gateway/machines/change.js';
import type { MachineState } from '../../gateway/machines/state.js';

const base: MachineState = {
  machineId: 'W1',
  kind: 'washer',
  status: 'running',
  program: 2,
  selectedProgram: 2,
  remainingSec: 1500,
  door: { closed: true, locked: true },
  faultCode: 0,
  creditCents: 0,
  sensors: { loadWeightGrams: null, waterHardnessDh: null },
  confirm: { lastSeq: 3, lastResult: 1 },
  observedAt: 1,
};

test('a first state is a change of everything', () => {
  assert.ok(stateChanges(null, base).includes('status'));
});

test('status, program, door, fault and credit changes are meaningful', () => {
  assert.deepEqual(stateChanges(base, { ...base, status: 'paused' }), ['status']);
  assert.deepEqual(stateChanges(base, { ...base, program: 3 }), ['program']);
  assert.deepEqual(stateChanges(base, { ...base, door: { closed: true, locked: false } }), ['door']);
  assert.deepEqual(stateChanges(base, { ...base, door: { closed: false, locked: true } }), ['door']);
  assert.deepEqual(stateChanges(base, { ...base, door: null }), ['door']);
  assert.deepEqual(stateChanges(base, { ...base, faultCode: 4 }), ['fault']);
  assert.deepEqual(stateChanges(base, { ...base, creditCents: 350 }), ['credit']);
});

test('remaining time only when it crosses a whole minute', () => {
  assert.deepEqual(stateChanges(base, { ...base, remainingSec: 1499 }), ['remainingMinute']); // 25:00 → 24:59
  assert.deepEqual(stateChanges({ ...base, remainingSec: 1499 }, { ...base, remainingSec: 1441 }), []);
  assert.deepEqual(stateChanges({ ...base, remainingSec: 1441 }, { ...base, remainingSec: 1440 }), []);
  assert.deepEqual(stateChanges({ ...base, remainingSec: 1440 }, { ...base, remainingSec: 1439 }), ['remainingMinute']);
  assert.deepEqual(stateChanges(base, { ...base, remainingSec: null }), ['remainingMinute']);
});

test('counters, sensors, selected program and the observation time are not changes', () => {
  assert.deepEqual(
    stateChanges(base, { ...base, observedAt: 99, confirm: { lastSeq: 4, lastResult: 2 }, sensors: { loadWeightGrams: 5000, waterHardnessDh: 7 }, selectedProgram: 5 }),
    [],
  );
});
