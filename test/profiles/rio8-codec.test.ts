import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RIO8_CAPABILITIES, channelPrograms, checkModuleType, counterDelta, decodeRio8, reconcileRio8, rio8CounterRestarted, trainDeadlineMs } from '../../gateway/profiles/rio8-codec.js';
import type { Rio8ChannelConfig } from '../../gateway/profiles/config-schema.js';
import { ProfileError } from '../../gateway/profiles/types.js';

const ch = (channel: number, machineId: string, kind: 'washer' | 'dryer' = 'washer'): Rio8ChannelConfig => ({
  channel,
  machineId,
  kind,
  coinCents: 50,
  coinsPerProgram: { '1': 7 },
  cycleMinutes: 30,
});

test('one MachineState per configured channel: in use → running, else idle, everything unknowable null', () => {
  const inUse = [false, true, false, false, false, false, false, true];
  const pending = [0, 0, 0, 0, 0, 0, 0, 3];
  const counters = [10, 20, 30, 40, 50, 60, 70, 65535];
  const states = decodeRio8([ch(0, 'C1'), ch(1, 'C2', 'dryer'), ch(7, 'C8')], { inUse, pending, counters }, 42);
  assert.deepEqual(
    states.map((s) => [s.machineId, s.kind, s.status, s.confirm.pulseCounter, s.confirm.pendingPulses]),
    [
      ['C1', 'washer', 'idle', 10, 0],
      ['C2', 'dryer', 'running', 20, 0],
      ['C8', 'washer', 'running', 65535, 3],
    ],
  );
  for (const s of states) {
    assert.equal(s.program, null);
    assert.equal(s.selectedProgram, null);
    assert.equal(s.remainingSec, null);
    assert.equal(s.door, null);
    assert.equal(s.faultCode, null);
    assert.equal(s.creditCents, null);
    assert.deepEqual(s.sensors, { loadWeightGrams: null, waterHardnessDh: null });
    assert.equal(s.observedAt, 42);
  }
  assert.throws(() => decodeRio8([ch(0, 'C1')], { inUse: [true], pending: [], counters: [] }, 0), ProfileError);
  assert.ok(Object.values(RIO8_CAPABILITIES).every((v) => v === false));
});

test('module type must be 0x5208', () => {
  checkModuleType(0x5208);
  assert.throws(() => checkModuleType(0x5701), /0x5701.*not a RIO-8/);
});

test('programs come from the config: price is coins × coin value', () => {
  const c: Rio8ChannelConfig = { ...ch(2, 'C3'), coinsPerProgram: { '2': 9, '1': 7 } };
  assert.deepEqual(channelPrograms(c), [
    { program: 1, name: '7 × 50¢', durationMin: 30, temperatureC: null, maxSpinRpm: null, listPriceCents: 350 },
    { program: 2, name: '9 × 50¢', durationMin: 30, temperatureC: null, maxSpinRpm: null, listPriceCents: 450 },
  ]);
});

test('the pulse counter wraps at 65536', () => {
  assert.equal(counterDelta(100, 107), 7);
  assert.equal(counterDelta(65530, 1), 7);
  assert.equal(counterDelta(5, 5), 0);
  assert.equal(counterDelta(65535, 0), 1);
});

test('train deadline: nominal time × factor + margin', () => {
  assert.equal(trainDeadlineMs(7, 60, 60, 1.5, 500), 1760);
  assert.equal(trainDeadlineMs(1, 20, 20, 1, 0), 40);
});

test('reconcileRio8: the counter is the proof', () => {
  const ev = { profile: 'rio8', unit: 20, channel: 1, counterBefore: 65533, coins: 7 } as const;
  assert.equal(reconcileRio8(ev, 4), 'executed-accepted'); // wrapped
  assert.equal(reconcileRio8(ev, 65533), 'not-executed');
  assert.equal(reconcileRio8(ev, 65533, 0), 'not-executed');
  assert.equal(reconcileRio8(ev, 65533, 7), 'executed-accepted'); // train just started
  assert.equal(reconcileRio8(ev, 1, 3), 'executed-accepted'); // 4 sent, 3 to go
  assert.equal(reconcileRio8(ev, 1), 'unknown'); // partial, nothing running: a module restart?
  // More than ours, nothing running: the counter restarted (power cut of the room, found by the
  // power-cut torture); the train's fate cannot be known, the customer is refunded. It used to
  // be 'unknown', which blocked the coin machine for good.
  assert.equal(reconcileRio8(ev, 10), 'not-executed');
  assert.equal(reconcileRio8({ ...ev, counterBefore: 7 }, 0), 'not-executed');
  assert.equal(reconcileRio8(ev, 10, 0, true), 'executed-accepted'); // ... and the machine has started since: it had its coins
  assert.equal(reconcileRio8(ev, 10, 0, false), 'not-executed');
  assert.equal(reconcileRio8(ev, 65533, 0, true), 'not-executed'); // in use, but not on our coins
  assert.equal(reconcileRio8(ev, 10, 2), 'unknown'); // someone else's train running
  assert.equal(rio8CounterRestarted({ ...ev, counterBefore: 7 }, 0, 0), true);
  assert.equal(rio8CounterRestarted(ev, 65533, 0), false);
  assert.equal(reconcileRio8(ev, null), 'unknown');
  assert.equal(reconcileRio8({ profile: 'lw485', unit: 1, seq: 1, code: 1 }, 4), 'unknown');
});
