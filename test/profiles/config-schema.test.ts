import { test } from 'node:test';
import assert from 'node:assert/strict';
import { busUnitsSchema, roomUnitsSchema, unitMachineIds, type UnitConfig } from '../../gateway/profiles/config-schema.js';

const coin = (channel: number, machineId: string) => ({ channel, machineId, kind: 'washer', coinCents: 50, coinsPerProgram: { '1': 7 }, cycleMinutes: 30 });

function issues(r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }): string[] {
  return (r.error?.issues ?? []).map((i) => `${i.path.map(String).join('.')}: ${i.message}`);
}

test('a valid room: LW-485 washers and dryers and a RIO-8 with coin machines', () => {
  const units = [
    { unit: 1, profile: 'lw485', machineId: 'W1', name: 'Washer 1' },
    { unit: 9, profile: 'lw485', machineId: 'D1', kind: 'dryer' },
    { unit: 20, profile: 'rio8', channels: [coin(0, 'C1'), { ...coin(3, 'C4'), kind: 'dryer', coinsPerProgram: { '1': 4, '2': 8 } }] },
  ];
  const r = busUnitsSchema.safeParse(units);
  assert.ok(r.success, issues(r).join('\n'));
  assert.deepEqual(r.data.flatMap((u: UnitConfig) => unitMachineIds(u)), ['W1', 'D1', 'C1', 'C4']);
});

test('unit ids 1-247 only, each once per bus', () => {
  for (const unit of [0, 248, 1.5]) assert.equal(busUnitsSchema.safeParse([{ unit, profile: 'lw485', machineId: 'W1' }]).success, false);
  const r = busUnitsSchema.safeParse([
    { unit: 4, profile: 'lw485', machineId: 'W1' },
    { unit: 4, profile: 'rio8', channels: [coin(0, 'C1')] },
  ]);
  assert.deepEqual(issues(r), ['1.unit: unit 4 is already used by entry [0] on this bus']);
});

test('machine ids unique on a bus and across the room', () => {
  const r = busUnitsSchema.safeParse([
    { unit: 1, profile: 'lw485', machineId: 'W1' },
    { unit: 2, profile: 'rio8', channels: [coin(0, 'W1')] },
  ]);
  assert.deepEqual(issues(r), ['1.channels.0.machineId: machine id "W1" is already used at 0.machineId']);
  const room = roomUnitsSchema.safeParse([
    { busId: 'a', units: [{ unit: 1, profile: 'lw485', machineId: 'W1' }] },
    { busId: 'b', units: [{ unit: 1, profile: 'lw485', machineId: 'W1' }] },
  ]);
  assert.deepEqual(issues(room), ['1.units.0.machineId: machine id "W1" is already used at 0.units.0.machineId']);
  const sameBus = roomUnitsSchema.safeParse([{ busId: 'a', units: [{ unit: 1, profile: 'lw485', machineId: 'W1' }, { unit: 2, profile: 'lw485', machineId: 'W1' }] }]);
  assert.equal(issues(sameBus).length, 1, 'reported once, not by both the bus and the room check');
  assert.equal(busUnitsSchema.safeParse([{ unit: 1, profile: 'lw485', machineId: 'bad id!' }]).success, false);
});

test('RIO-8 channels: 0-7, each once, coins 1-50, at least one program', () => {
  const dup = busUnitsSchema.safeParse([{ unit: 2, profile: 'rio8', channels: [coin(5, 'C1'), coin(5, 'C2')] }]);
  assert.deepEqual(issues(dup), ['0.channels.1.channel: channel 5 is already used by channels[0] of this module']);
  assert.equal(busUnitsSchema.safeParse([{ unit: 2, profile: 'rio8', channels: [coin(8, 'C1')] }]).success, false);
  assert.equal(busUnitsSchema.safeParse([{ unit: 2, profile: 'rio8', channels: [{ ...coin(0, 'C1'), coinsPerProgram: { '1': 51 } }] }]).success, false);
  assert.equal(busUnitsSchema.safeParse([{ unit: 2, profile: 'rio8', channels: [{ ...coin(0, 'C1'), coinsPerProgram: {} }] }]).success, false);
  assert.equal(busUnitsSchema.safeParse([{ unit: 2, profile: 'rio8', channels: [{ ...coin(0, 'C1'), coinsPerProgram: { '0': 3 } }] }]).success, false);
  assert.equal(busUnitsSchema.safeParse([{ unit: 2, profile: 'rio8', channels: [{ ...coin(0, 'C1'), coinCents: 0.5 }] }]).success, false);
  assert.equal(busUnitsSchema.safeParse([{ unit: 2, profile: 'rio8', channels: [] }]).success, false);
});

test('unknown profiles and unknown keys are refused', () => {
  assert.equal(busUnitsSchema.safeParse([{ unit: 2, profile: 'lw999', machineId: 'X' }]).success, false);
  assert.equal(busUnitsSchema.safeParse([{ unit: 2, profile: 'lw485', machineId: 'X', machineID: 'Y' }]).success, false);
});
