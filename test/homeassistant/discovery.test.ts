// The pure parts of the Home Assistant feature: discovery configs checked against the schemas
// written from Home Assistant's documentation, stable ids, what each entity shows for each state,
// the free-machine counts and the config block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { homeAssistantConfigSchema } from '../../gateway/homeassistant/config-schema.js';
import { machineConfigTopics, machineConfigs, roomConfigs, STATUS_OPTIONS } from '../../gateway/homeassistant/discovery.js';
import { haBinarySensorConfigSchema, haSensorConfigSchema, haStatePayload, ownEntityRules } from '../../gateway/homeassistant/discovery-schema.js';
import { haMachinesOf, type HaMachine } from '../../gateway/homeassistant/machines.js';
import { Naming, slug } from '../../gateway/homeassistant/naming.js';
import { machineView, roomCounts } from '../../gateway/homeassistant/state-view.js';
import type { MachineState } from '../../gateway/machines/state.js';

const cfg = homeAssistantConfigSchema.parse({ url: 'mqtt://127.0.0.1:1883' });
const naming = new Naming(cfg, 'Dorm B/laundry');
const MACHINES: HaMachine[] = [
  { machineId: 'W1', name: null, profile: 'lw485', kind: 'washer', cycleMinutes: null },
  { machineId: 'D1', name: 'Big dryer', profile: 'lw485', kind: 'dryer', cycleMinutes: null },
  { machineId: 'C1', name: null, profile: 'rio8', kind: 'washer', cycleMinutes: 30 },
];

function state(over: Partial<MachineState>): MachineState {
  return {
    machineId: 'W1',
    kind: 'washer',
    status: 'idle',
    program: null,
    selectedProgram: null,
    remainingSec: 0,
    door: { closed: true, locked: false },
    faultCode: 0,
    creditCents: 0,
    sensors: { loadWeightGrams: null, waterHardnessDh: null },
    confirm: {},
    observedAt: Date.UTC(2026, 11, 7, 8, 0, 0),
    ...over,
  };
}

test('every discovery config matches the documented sensor or binary_sensor schema and has a unique_id, a device and an origin', () => {
  const all = [...MACHINES.flatMap((m) => machineConfigs(naming, m)), ...roomConfigs(naming, { id: 'Dorm B/laundry', name: 'Dorm B laundry' })];
  assert.equal(all.length, 6 + 6 + 3 + 2);
  for (const c of all) {
    const schema = c.component === 'sensor' ? haSensorConfigSchema : haBinarySensorConfigSchema;
    const r = schema.safeParse(c.payload);
    assert.ok(r.success, `${c.uniqueId}: ${JSON.stringify(r.error?.issues)}`);
    assert.ok(ownEntityRules.safeParse(c.payload).success, c.uniqueId);
    // <discovery_prefix>/<component>/<object_id>/config, the object id from [a-zA-Z0-9_-]
    assert.match(c.topic, /^homeassistant\/(sensor|binary_sensor)\/[A-Za-z0-9_-]+\/config$/);
    assert.equal(c.topic, `homeassistant/${c.component}/${c.uniqueId}/config`);
    // read-only: nothing Home Assistant could send a command to
    assert.ok(!Object.keys(c.payload).some((k) => k.includes('command')), c.uniqueId);
  }
  assert.equal(new Set(all.map((c) => c.uniqueId)).size, all.length, 'unique_ids are unique');
  assert.equal(new Set(all.map((c) => c.payload.state_topic)).size, all.length, 'one state topic per entity');
});

test('machines hang off the room device; the model says LW-485 washer or dryer or RIO-8 coin machine', () => {
  const dev = (m: HaMachine): unknown => machineConfigs(naming, m)[0]?.payload.device;
  assert.deepEqual(dev(MACHINES[0] as HaMachine), { identifiers: ['laundry_Dorm_B_laundry_W1'], name: 'Washer W1', model: 'LW-485 washer', via_device: 'laundry_Dorm_B_laundry' });
  assert.deepEqual(dev(MACHINES[1] as HaMachine), { identifiers: ['laundry_Dorm_B_laundry_D1'], name: 'Big dryer', model: 'LW-485 dryer', via_device: 'laundry_Dorm_B_laundry' });
  assert.equal((dev(MACHINES[2] as HaMachine) as { model: string }).model, 'RIO-8 coin machine');
  const room = roomConfigs(naming, { id: 'Dorm B/laundry' })[0]?.payload.device;
  assert.deepEqual(room, { identifiers: ['laundry_Dorm_B_laundry'], name: 'Laundry room Dorm B/laundry', model: 'laundry-gateway' });
  // A RIO-8 cannot read time, door or faults: status, running and an estimated end.
  assert.deepEqual(
    machineConfigs(naming, MACHINES[2] as HaMachine).map((c) => c.uniqueId),
    ['laundry_Dorm_B_laundry_C1_status', 'laundry_Dorm_B_laundry_C1_end', 'laundry_Dorm_B_laundry_C1_running'],
  );
  const status = machineConfigs(naming, MACHINES[0] as HaMachine)[0]?.payload;
  assert.deepEqual(status && 'options' in status ? status.options : null, [...STATUS_OPTIONS]);
});

test('ids come from the room and machine ids alone: the same after a restart, known before the kind is', () => {
  const again = new Naming(cfg, 'Dorm B/laundry');
  const ids = (n: Naming): string[] => MACHINES.flatMap((m) => machineConfigs(n, m).map((c) => c.uniqueId));
  assert.deepEqual(ids(again), ids(naming));
  const unknownKind: HaMachine = { machineId: 'W9', name: null, profile: 'lw485', kind: null, cycleMinutes: null };
  assert.deepEqual(machineConfigTopics(naming, unknownKind), machineConfigs(naming, { ...unknownKind, kind: 'dryer' }).map((c) => c.topic));
  assert.equal(slug('a b/c+d#e'), 'a_b_c_d_e');
});

test('the schemas refuse what Home Assistant documents as invalid', () => {
  const ok = { state_topic: 's', unique_id: 'u' };
  assert.equal(haSensorConfigSchema.safeParse({ ...ok, device_class: 'enum' }).success, false, 'enum without options');
  assert.equal(haSensorConfigSchema.safeParse({ ...ok, options: ['a'] }).success, false, 'options without enum');
  assert.equal(haSensorConfigSchema.safeParse({ ...ok, device_class: 'enum', options: [] }).success, false, 'empty options');
  assert.equal(haSensorConfigSchema.safeParse({ ...ok, device_class: 'enum', options: ['a'], unit_of_measurement: 'x' }).success, false, 'options with a unit');
  assert.equal(haSensorConfigSchema.safeParse({ ...ok, device_class: 'timestamp', state_class: 'measurement' }).success, false, 'timestamp with a state class');
  assert.equal(haSensorConfigSchema.safeParse({ ...ok, device_class: 'duration', unit_of_measurement: 'minutes' }).success, false, 'duration unit');
  assert.equal(haSensorConfigSchema.safeParse({ ...ok, entity_category: 'config' }).success, false, 'sensors are diagnostic or nothing');
  assert.equal(haSensorConfigSchema.safeParse({ ...ok, stat_t: 'x' }).success, false, 'unknown (or abbreviated) keys');
  assert.equal(haSensorConfigSchema.safeParse({ ...ok, device: { name: 'x' } }).success, false, 'a device needs identifiers or connections');
  assert.equal(haSensorConfigSchema.safeParse({ ...ok, availability_topic: 'a', availability: [{ topic: 'b' }] }).success, false, 'both availability forms');
  assert.equal(haBinarySensorConfigSchema.safeParse({ ...ok, device_class: 'washing' }).success, false, 'binary device class');
  assert.equal(haSensorConfigSchema.safeParse({ state_topic: 'room/#' }).success, false, 'wildcard state topic');
});

test('the state of each entity through a whole cycle, and unknown when the machine is offline', () => {
  const keys = ['status', 'remaining', 'end', 'running', 'door', 'fault'] as const;
  const at = Date.UTC(2026, 11, 7, 8, 0, 0);
  const idle = machineView(state({}), keys, null, true);
  assert.deepEqual(idle.values, { status: 'idle', remaining: '0', end: 'None', running: 'OFF', door: 'OFF', fault: 'OFF' });
  const running = machineView(state({ status: 'running', remainingSec: 1799, observedAt: at, door: { closed: true, locked: true } }), keys, null, true);
  assert.deepEqual(running.values, { status: 'running', remaining: '30', end: '2026-12-07T08:29:59Z', running: 'ON', door: 'OFF', fault: 'OFF' });
  // 40 s later the machine says 1 000 s: within a minute of the end shown, which stays.
  const later = machineView(state({ status: 'running', remainingSec: 1000, observedAt: at + 40_000 + 755_000 }), keys, running.endMs, true);
  assert.equal(later.values.end, '2026-12-07T08:29:59Z');
  assert.equal(later.values.remaining, '17');
  // Slowed down by more than a minute: a new end.
  assert.equal(machineView(state({ status: 'running', remainingSec: 1000, observedAt: at + 900_000 }), keys, running.endMs, true).values.end, '2026-12-07T08:31:40Z');
  assert.equal(machineView(state({ status: 'running', remainingSec: 600 }), keys, null, false).values.end, 'None', 'no end on an untrusted clock');
  assert.deepEqual(machineView(state({ status: 'done', door: { closed: false, locked: false } }), keys, null, true).values, { status: 'done', remaining: '0', end: 'None', running: 'OFF', door: 'ON', fault: 'OFF' });
  const fault = machineView(state({ status: 'fault', faultCode: 3 }), keys, null, true);
  assert.equal(fault.values.fault, 'ON');
  assert.deepEqual(fault.faultAttributes, { code: 3, panel: 'E03' });
  assert.deepEqual(machineView(state({ status: 'offline' }), keys, null, true).values, { status: 'offline', remaining: 'None', end: 'None', running: 'None', door: 'None', fault: 'None' });
  // A coin machine: the end from the start the gateway saw and the configured cycle, else unknown.
  const coinState = state({ status: 'running', remainingSec: null, door: null, faultCode: null });
  const coin = machineView(coinState, ['status', 'end', 'running'], null, true, { runningSinceMs: at, cycleMinutes: 30 });
  assert.deepEqual(coin.values, { status: 'running', end: '2026-12-07T08:30:00Z', running: 'ON' });
  assert.equal(machineView(coinState, ['status', 'end', 'running'], null, true, { runningSinceMs: null, cycleMinutes: 30 }).values.end, 'None', 'a start not seen');
  // every value is one Home Assistant reads
  for (const v of [idle, running, later, fault]) {
    assert.ok(haStatePayload.enumOf(STATUS_OPTIONS).safeParse(v.values.status).success);
    assert.ok(haStatePayload.integer.safeParse(v.values.remaining).success);
    assert.ok(haStatePayload.timestamp.safeParse(v.values.end).success, v.values.end);
    for (const b of ['running', 'door', 'fault'] as const) assert.ok(haStatePayload.binary.safeParse(v.values[b]).success);
  }
});

test('free means idle, counted per kind', () => {
  assert.deepEqual(
    roomCounts([
      { kind: 'washer', status: 'idle' },
      { kind: 'washer', status: 'done' },
      { kind: 'washer', status: 'idle' },
      { kind: 'dryer', status: 'running' },
      { kind: 'dryer', status: 'offline' },
      { kind: null, status: 'idle' },
    ]),
    { free_washers: '2', free_dryers: '0' },
  );
});

test('the config block: off unless given, defaults, unknown keys refused at every depth', () => {
  assert.equal(cfg.discoveryPrefix, 'homeassistant');
  assert.equal(cfg.birthTopic, 'homeassistant/status');
  assert.equal(cfg.topicPrefix, 'laundry-gateway');
  assert.equal(cfg.reconnect.minMs, 1000);
  assert.equal(homeAssistantConfigSchema.safeParse({ url: 'mqtt://h', extra: 1 }).success, false);
  assert.equal(homeAssistantConfigSchema.safeParse({ url: 'mqtt://h', reconnect: { minMs: 10, nope: 1 } }).success, false);
  assert.equal(homeAssistantConfigSchema.safeParse({ url: 'mqtt://h', tls: { caFile: '/ca', other: true } }).success, false);
  assert.equal(homeAssistantConfigSchema.safeParse({ url: 'mqtt://h', discoveryPrefix: 'home/#' }).success, false);
  assert.equal(homeAssistantConfigSchema.safeParse({ url: 'http://h' }).success, false);
  assert.deepEqual(
    haMachinesOf([{ units: [{ unit: 1, profile: 'lw485', machineId: 'W1' }, { unit: 2, profile: 'rio8', channels: [{ channel: 0, machineId: 'C1', kind: 'dryer', coinCents: 50, coinsPerProgram: { '1': 2 }, cycleMinutes: 20, name: 'Coin dryer' }] }] }]),
    [
      { machineId: 'W1', name: null, profile: 'lw485', kind: null, cycleMinutes: null },
      { machineId: 'C1', name: 'Coin dryer', profile: 'rio8', kind: 'dryer', cycleMinutes: 20 },
    ],
  );
});
