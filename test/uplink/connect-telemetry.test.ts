// On every connect, including the first after a start, the gateway publishes every machine's
// state (retained, from the pollers' current states, before any change), its online status with
// the room config version it runs, and a health message with it; after every config message
// (applied or ignored as equal) the online status again, with the version it runs. A real Mosquitto; a dashboard
// that subscribes later sees it all at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import type { MachineState } from '../../gateway/machines/state.js';
import { healthSchema, machineSnapshotSchema, statusSchema } from '../../protocols/mqtt/payloads.js';
import { roomTopics } from '../../protocols/mqtt/topics.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { signDownlink } from '../../cloud/signing.js';
import { ROOM, cloudKeys, makeUplink, tempDir, testLedger, waitFor } from './helpers.js';

let broker: Broker;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

const machine = (machineId: string, status: MachineState['status']): MachineState => ({
  machineId, kind: 'washer', status, program: null, selectedProgram: null, remainingSec: null, door: { closed: true, locked: false },
  faultCode: null, creditCents: null, sensors: { loadWeightGrams: null, waterHardnessDh: null }, confirm: {}, observedAt: Date.now(),
});

test('connect: every machine state right after a start (no change seen yet), online status and health with the config version', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  ledger.setNumberSetting('uplink.roomConfigVersion', 7);
  const up = makeUplink(ledger, broker.url, { currentStates: () => [machine('w1', 'idle'), machine('d1', 'running')] });
  const topics = roomTopics(ROOM);
  const seen = new Map<string, unknown>();
  const dash = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  try {
    dash.on('message', (topic, payload) => seen.set(topic, JSON.parse(payload.toString('utf8'))));
    await dash.subscribeAsync(`${topics.prefix}/${ROOM}/up/#`, { qos: 1 });
    await up.start();
    await waitFor(() => seen.has(topics.state('w1')) && seen.has(topics.state('d1')) && seen.has(topics.up('status')) && seen.has(topics.up('health')), 'states, status and health');
    assert.equal(machineSnapshotSchema.parse(seen.get(topics.state('d1'))).status, 'running');
    assert.equal(statusSchema.parse(seen.get(topics.up('status'))).configVersion, 7);
    assert.equal(healthSchema.parse(seen.get(topics.up('health'))).configVersion, 7);
    // A dashboard that comes later gets the retained states at once.
    const late = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    const retained = new Set<string>();
    late.on('message', (topic, _p, packet) => {
      if (packet.retain) retained.add(topic);
    });
    await late.subscribeAsync(`${topics.prefix}/${ROOM}/up/state/+`, { qos: 1 });
    await waitFor(() => retained.size === 2, 'retained states for a late dashboard');
    await late.endAsync();
  } finally {
    await up.stop();
    await dash.endAsync();
    ledger.close();
    t.cleanup();
  }
});

test('config: after a config is applied, and again when an equal one is ignored, the online status says the version the gateway runs', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  const keys = cloudKeys();
  const applied: number[] = [];
  const up = makeUplink(ledger, broker.url, { onRoomConfig: (cfg) => void applied.push(cfg.version) }, { configPublicKey: keys.publicB64 });
  const topics = roomTopics(ROOM);
  const statuses: { configVersion?: number | null }[] = [];
  const cloud = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  try {
    cloud.on('message', (topic, payload) => {
      if (topic === topics.up('status')) statuses.push(statusSchema.parse(JSON.parse(payload.toString('utf8'))));
    });
    await cloud.subscribeAsync(topics.up('status'), { qos: 1 });
    await up.start();
    await waitFor(() => statuses.some((s) => s.configVersion === null), 'online without a config');
    const msg = signDownlink('config', ROOM, { version: 4, issuedAtSec: Math.floor(Date.now() / 1000) }, keys.privateKey);
    await cloud.publishAsync(topics.down('config'), msg.payload, { qos: 1 });
    await waitFor(() => statuses.filter((s) => s.configVersion === 4).length === 1, 'status with version 4');
    await cloud.publishAsync(topics.down('config'), msg.payload, { qos: 1 });
    await waitFor(() => statuses.filter((s) => s.configVersion === 4).length === 2, 'status again after the equal config');
    assert.deepEqual(applied, [4], 'the equal one was not applied again');
  } finally {
    await up.stop();
    await cloud.endAsync();
    ledger.close();
    t.cleanup();
  }
});
