import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LW485,
  decodeIdentity,
  decodeName,
  decodeProgramTable,
  decodeStatus,
  encodeCommandBlock,
  mapResult,
  nextSeq,
  programTableBlocks,
  reconcileLw485,
  seqAfter,
  toMachineState,
} from '../../gateway/profiles/lw485-codec.js';
import { ProfileError } from '../../gateway/profiles/types.js';

/** Inputs 16-29 with overrides by absolute address. */
function status(over: Record<number, number> = {}): number[] {
  const regs = new Array<number>(14).fill(0);
  regs[29 - 16] = 65535;
  for (const [a, v] of Object.entries(over)) regs[Number(a) - 16] = v;
  return regs;
}

const nameRegs = (s: string): number[] => {
  const p = s.padEnd(8, ' ');
  return [0, 2, 4, 6].map((i) => (p.charCodeAt(i) << 8) | p.charCodeAt(i + 1));
};

test('every state value decodes to its normalized status; anything else is a ProfileError', () => {
  const expected = ['idle', 'credited', 'running', 'paused', 'done', 'fault', 'service'];
  expected.forEach((name, v) => assert.equal(decodeStatus(status({ 16: v }), 'washer').status, name));
  for (const bad of [7, 99, 65535]) assert.throws(() => decodeStatus(status({ 16: bad }), 'washer'), ProfileError);
  assert.throws(() => decodeStatus([0, 0, 0], 'washer'), ProfileError);
});

test('phases: washer 0-5, dryer 0 and 11-13, with an honest name for anything else', () => {
  const washer: Record<number, string> = { 0: 'none', 1: 'fill', 2: 'wash', 3: 'rinse', 4: 'spin', 5: 'drain' };
  for (const [p, n] of Object.entries(washer)) assert.equal(decodeStatus(status({ 16: 2, 17: Number(p) }), 'washer').phaseName, n);
  const dryer: Record<number, string> = { 0: 'none', 11: 'heat', 12: 'cool-down', 13: 'anti-crease' };
  for (const [p, n] of Object.entries(dryer)) assert.equal(decodeStatus(status({ 16: 2, 17: Number(p) }), 'dryer').phaseName, n);
  assert.equal(decodeStatus(status({ 17: 11 }), 'washer').phaseName, 'unknown(11)');
  assert.equal(decodeStatus(status({ 17: 3 }), 'dryer').phaseName, 'unknown(3)');
  // The phase rides along in confirm for the page; MachineState has no field for it.
  assert.equal(toMachineState('W1', 'washer', decodeStatus(status({ 16: 2, 17: 4 }), 'washer'), 1).confirm.phase, 4);
});

test('door bits: closed is bit 0, locked is bit 1, in all four combinations', () => {
  const cases: [number, { closed: boolean; locked: boolean }][] = [
    [0, { closed: false, locked: false }],
    [1, { closed: true, locked: false }],
    [2, { closed: false, locked: true }],
    [3, { closed: true, locked: true }],
  ];
  for (const [v, door] of cases) assert.deepEqual(decodeStatus(status({ 21: v }), 'washer').door, door);
});

test('fault codes 0-8 pass through; 0 is "no fault", not unknown', () => {
  for (let f = 0; f <= 8; f++) {
    const s = toMachineState('W1', 'washer', decodeStatus(status({ 16: f === 0 ? 0 : 5, 22: f }), 'washer'), 5);
    assert.equal(s.faultCode, f);
    assert.equal(s.status, f === 0 ? 'idle' : 'fault');
  }
});

test('a running cycle decodes into every MachineState field', () => {
  const regs = status({ 16: 2, 17: 2, 18: 1234, 19: 3, 20: 3, 21: 3, 22: 0, 23: 0, 24: 41, 25: 1, 26: 1, 27: 5, 28: 712, 29: 87 });
  const s = toMachineState('W7', 'washer', decodeStatus(regs, 'washer'), 1_700_000_000_000);
  assert.deepEqual(s, {
    machineId: 'W7',
    kind: 'washer',
    status: 'running',
    program: 3,
    selectedProgram: 3,
    remainingSec: 1234,
    door: { closed: true, locked: true },
    faultCode: 0,
    creditCents: 0,
    sensors: { loadWeightGrams: 7120, waterHardnessDh: 8.7 },
    confirm: { lastSeq: 41, lastResult: 1, cycleCounter: 65541, phase: 2 },
    observedAt: 1_700_000_000_000,
  });
});

test('idle with nothing selected: programs null, no sensors fitted, credit kept as cents', () => {
  const s = toMachineState('D1', 'dryer', decodeStatus(status({ 16: 1, 19: 2, 23: 300 }), 'dryer'), 0);
  assert.equal(s.status, 'credited');
  assert.equal(s.program, 2);
  assert.equal(s.selectedProgram, null);
  assert.equal(s.creditCents, 300);
  assert.deepEqual(s.sensors, { loadWeightGrams: null, waterHardnessDh: null });
  assert.equal(toMachineState('W', 'washer', decodeStatus(status(), 'washer'), 0).program, null);
});

test('identity: both models, firmware, 32-bit serial, capacity; a foreign model is a clear error', () => {
  const w = decodeIdentity([0x5701, 0x0103, 0x0134, 0x2a5f, 80, 6]);
  assert.deepEqual(w, { modelCode: 0x5701, kind: 'washer', firmware: '1.3', serialNumber: 0x01342a5f, capacityKg: 8, programCount: 6 });
  assert.equal(decodeIdentity([0x4401, 0x0200, 0, 7, 100, 4]).kind, 'dryer');
  assert.throws(() => decodeIdentity([0x5208, 0x0100, 0, 0, 0, 0]), (e: unknown) => e instanceof ProfileError && /0x5208/.test(e.message) && /neither/.test(e.message));
  assert.throws(() => decodeIdentity([0x5701, 0, 0, 0, 80, 0]), /program count 0/);
  assert.throws(() => decodeIdentity([0x5701, 0, 0, 0, 80, 17]), /program count 17/);
});

test('program table: names decoded and trimmed, washer units, dryer heat level is not °C', () => {
  const washer = [...[30, 30, 100, 250], ...nameRegs('QUICK'), ...[20, 0, 100, 150], ...nameRegs('RINSE')];
  assert.deepEqual(decodeProgramTable(washer, 2, 'washer'), [
    { program: 1, name: 'QUICK', durationMin: 30, temperatureC: 30, maxSpinRpm: 1000, listPriceCents: 250 },
    { program: 2, name: 'RINSE', durationMin: 20, temperatureC: 0, maxSpinRpm: 1000, listPriceCents: 150 },
  ]);
  const dryer = [...[10, 3, 0, 100], ...nameRegs('HIGH')];
  assert.deepEqual(decodeProgramTable(dryer, 1, 'dryer'), [{ program: 1, name: 'HIGH', durationMin: 10, temperatureC: null, maxSpinRpm: null, listPriceCents: 100 }]);
  assert.equal(decodeName(nameRegs('DELICATE')), 'DELICATE');
  assert.equal(decodeName([0x4101, 0, 0, 0]), 'A?');
  assert.throws(() => decodeProgramTable([1, 2, 3], 1, 'washer'), ProfileError);
});

test('program table reads stay under the 125-register limit', () => {
  assert.deepEqual(
    programTableBlocks(6, 15).map((b) => [b.address, b.quantity]),
    [[512, 48]],
  );
  const sixteen = programTableBlocks(16, 15);
  assert.deepEqual(
    sixteen.map((b) => [b.address, b.quantity]),
    [
      [512, 120],
      [632, 8],
    ],
  );
  for (const b of sixteen) assert.ok(b.quantity <= 125);
  assert.deepEqual(LW485.statusBlock, { fc: 4, address: 16, quantity: 14, label: 'lw485 status 16-29' });
});

test('seq: 1..65535 wrapping, never 0, never the device last seq, never a reused seq', () => {
  assert.equal(seqAfter(1), 2);
  assert.equal(seqAfter(65534), 65535);
  assert.equal(seqAfter(65535), 1);
  assert.equal(seqAfter(0), 1);
  assert.equal(nextSeq(10, 10), 11);
  assert.equal(nextSeq(10, 11), 12);
  assert.equal(nextSeq(65535, 1), 2);
  assert.equal(nextSeq(65535, 65535), 1);
  for (let last = 0; last <= 65535; last += 257) {
    for (const dev of [0, last, seqAfter(last), 65535]) {
      const s = nextSeq(last, dev);
      assert.ok(s >= 1 && s <= 65535 && s !== dev && s !== last);
    }
  }
});

test('command block: five registers, seq first; values that do not fit are refused before the wire', () => {
  assert.deepEqual(encodeCommandBlock({ seq: 7, code: 1, program: 2, amountCents: 350, minutes: 0 }), [7, 1, 2, 350, 0]);
  assert.throws(() => encodeCommandBlock({ seq: 0, code: 1, program: 1, amountCents: 1, minutes: 0 }), /seq 0/);
  assert.throws(() => encodeCommandBlock({ seq: 1, code: 1, program: 1, amountCents: 70000, minutes: 0 }), ProfileError);
  assert.throws(() => encodeCommandBlock({ seq: 1, code: 1, program: 1.5, amountCents: 1, minutes: 0 }), ProfileError);
});

test('result codes 1-7 map to accepted and the six rejections; others are unknown', () => {
  assert.deepEqual(mapResult(1), { status: 'accepted' });
  const reasons = ['busy', 'door_open', 'fault', 'unknown_program', 'bad_argument', 'not_allowed'];
  reasons.forEach((reason, i) => assert.deepEqual(mapResult(i + 2), { status: 'rejected', reason, deviceCode: i + 2 }));
  assert.deepEqual(mapResult(0), { status: 'unknown', deviceCode: 0 });
  assert.deepEqual(mapResult(8), { status: 'unknown', deviceCode: 8 });
});

test('reconcileLw485: by last seq and last result', () => {
  const ev = { profile: 'lw485', unit: 3, seq: 500, code: 1 } as const;
  assert.equal(reconcileLw485(ev, { lastSeq: 500, lastResult: 1 }), 'executed-accepted');
  for (let r = 2; r <= 7; r++) assert.equal(reconcileLw485(ev, { lastSeq: 500, lastResult: r }), 'executed-rejected');
  assert.equal(reconcileLw485(ev, { lastSeq: 499, lastResult: 1 }), 'not-executed');
  assert.equal(reconcileLw485(ev, { lastSeq: 500, lastResult: 0 }), 'unknown');
  assert.equal(reconcileLw485(ev, null), 'unknown');
  assert.equal(reconcileLw485({ profile: 'rio8', unit: 3, channel: 0, counterBefore: 0, coins: 1 }, { lastSeq: 500, lastResult: 1 }), 'unknown');
});

test('every combination of state × phase × door × fault decodes each field independently', () => {
  const statuses = ['idle', 'credited', 'running', 'paused', 'done', 'fault', 'service'];
  const phases = { washer: [0, 1, 2, 3, 4, 5], dryer: [0, 11, 12, 13] } as const;
  let n = 0;
  for (const kind of ['washer', 'dryer'] as const) {
    for (let st = 0; st <= 6; st++) {
      for (const ph of phases[kind]) {
        for (let door = 0; door <= 3; door++) {
          for (let fault = 0; fault <= 8; fault++) {
            const regs = status({ 16: st, 17: ph, 18: 600 + st, 19: st === 0 ? 0 : 2, 21: door, 22: fault, 23: st === 1 ? 350 : 0 });
            const d = decodeStatus(regs, kind);
            const s = toMachineState('M', kind, d, 7);
            assert.equal(s.status, statuses[st]);
            assert.equal(d.phase, ph);
            assert.ok(!d.phaseName.startsWith('unknown'));
            assert.deepEqual(s.door, { closed: (door & 1) === 1, locked: (door & 2) === 2 });
            assert.equal(s.faultCode, fault);
            assert.equal(s.remainingSec, 600 + st);
            assert.equal(s.program, st === 0 ? null : 2);
            assert.equal(s.creditCents, st === 1 ? 350 : 0);
            assert.equal(s.kind, kind);
            n++;
          }
        }
      }
    }
  }
  assert.equal(n, 7 * (6 + 4) * 4 * 9);
});
