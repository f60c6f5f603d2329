// Admission from the polled state alone: which statuses take a vend, and a RIO-8 channel still
// pulsing (shown idle) does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admissionReason, chooseProgram } from '../../gateway/engine/admission.js';
import type { MachineState, MachineStatus } from '../../gateway/machines/state.js';

function state(status: MachineStatus, confirm: Record<string, number> = {}, selectedProgram: number | null = null): MachineState {
  return {
    machineId: 'M', kind: 'washer', status, program: null, selectedProgram, remainingSec: null, door: null, faultCode: null, creditCents: null,
    sensors: { loadWeightGrams: null, waterHardnessDh: null }, confirm, observedAt: 0,
  };
}

test('admission by status', () => {
  const want: Record<MachineStatus, string | null> = {
    idle: null, done: null, offline: 'machine_offline', fault: 'machine_fault', service: 'machine_service',
    credited: 'machine_busy', running: 'machine_busy', paused: 'machine_busy',
  };
  for (const [s, r] of Object.entries(want)) assert.equal(admissionReason(state(s as MachineStatus)), r, s);
  assert.equal(admissionReason(null), 'machine_offline');
});

test('a RIO-8 channel with pulses pending is busy though it shows idle', () => {
  assert.equal(admissionReason(state('idle', { pulseCounter: 10, pendingPulses: 3 })), 'machine_busy');
  assert.equal(admissionReason(state('idle', { pulseCounter: 10, pendingPulses: 0 })), null);
});

test('the program: the panel selection, else the first program', () => {
  const programs = [{ program: 1, name: 'Q', durationMin: 30, temperatureC: 30, maxSpinRpm: 1000, listPriceCents: 250 }];
  assert.equal(chooseProgram(state('idle', {}, 3), programs), 3);
  assert.equal(chooseProgram(state('idle'), programs), 1);
  assert.equal(chooseProgram(state('idle'), []), 1);
});
