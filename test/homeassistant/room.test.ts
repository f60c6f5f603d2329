// The demo room (8 washers, 4 dryers, a RIO-8 with 4 coin machines, simulated over TCP) run by the
// real daemon with the homeAssistant block pointing at a real Mosquitto, where this test plays
// Home Assistant: every discovery config checked against the documented schemas, a dryer's whole
// cycle seen on the state topics, a coin machine's estimated end, no money or card on the broker,
// Home Assistant's birth, the broker killed (the room vends on, the outage logged once) and
// started again, and a hostile client on that broker that changes nothing in the room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimRoom, demoRoomUnits } from '../../simulator/index.js';
import { gatewayConfigSchema } from '../../gateway/config/schema.js';
import { createLogger } from '../../gateway/core/log.js';
import { systemClock } from '../../gateway/core/clock.js';
import { Daemon } from '../../gateway/daemon.js';
import { DEMO_CARDS, demoGatewayConfig } from '../../gateway/demo/room.js';
import { haBinarySensorConfigSchema, haSensorConfigSchema, ownEntityRules } from '../../gateway/homeassistant/discovery-schema.js';
import { keyPairFromSeed } from '../../protocols/qr-token/index.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { Observer, waitFor } from './observer.js';

const LW485 = [...Array.from({ length: 8 }, (_, i) => `W${i + 1}`), ...Array.from({ length: 4 }, (_, i) => `D${i + 1}`)];
const COIN = ['C1', 'C2', 'C3', 'C4'];
const BASE = 'laundry-gateway/demo-room';
const uid = (m: string, k: string): string => `laundry_demo-room_${m}_${k}`;
const CONFIG_TOPICS = [
  ...LW485.flatMap((m) => [['sensor', 'status'], ['sensor', 'remaining'], ['sensor', 'end'], ['binary_sensor', 'running'], ['binary_sensor', 'door'], ['binary_sensor', 'fault']].map(([c, k]) => `homeassistant/${c}/${uid(m, k ?? '')}/config`)),
  ...COIN.flatMap((m) => [`homeassistant/sensor/${uid(m, 'status')}/config`, `homeassistant/sensor/${uid(m, 'end')}/config`, `homeassistant/binary_sensor/${uid(m, 'running')}/config`]),
  'homeassistant/sensor/laundry_demo-room_free_washers/config',
  'homeassistant/sensor/laundry_demo-room_free_dryers/config',
];

test('Home Assistant sees the room: valid discovery, a whole cycle, birth, broker outage, hostile client', { timeout: 120_000 }, async () => {
  const broker = await startMosquitto();
  const room = new SimRoom({ units: demoRoomUnits(), timeScale: 240, replyDelayMs: 1 });
  room.start();
  const { port } = await room.listenTcp({ host: '127.0.0.1', port: 0, framing: 'rtu' });
  const dir = mkdtempSync(join(tmpdir(), 'ha-room-'));
  const input = demoGatewayConfig({ tcpPort: port, dbPath: join(dir, 'ledger.db'), qrPublicKey: Buffer.from(keyPairFromSeed(new Uint8Array(32).fill(3)).publicKey).toString('base64url') });
  const bus = input.buses[0];
  assert.ok(bus);
  bus.pollIntervalMs = 200;
  // W8 without a kind: it becomes known from the controller's model register at discovery.
  bus.units = bus.units.map((u) => (u.profile === 'lw485' && u.machineId === 'W8' ? { unit: u.unit, profile: 'lw485' as const, machineId: 'W8' } : u));
  const config = gatewayConfigSchema.parse({ ...input, homeAssistant: { url: broker.url, reconnect: { minMs: 100, maxMs: 400 }, birthDelayMaxMs: 0 } });
  const logLines: string[] = [];
  const logger = createLogger({ level: 'info', destination: new Writable({ write: (chunk: Buffer, _e, cb) => (logLines.push(...chunk.toString().split('\n').filter(Boolean)), cb()) }) });
  const daemon = new Daemon(config, { logger, clock: systemClock });
  const alice = DEMO_CARDS[0];
  daemon.ledger.applyAccountSnapshot({ accountId: alice.accountId, version: 1, balanceCents: alice.balanceCents, points: 0, tier: alice.tier, coveredSeq: 0 });
  daemon.ledger.applyCardList({ kind: 'full', version: 1, cards: [{ uid: alice.uid, accountId: alice.accountId, status: 'active' }] });
  const ha = await Observer.connect(broker.url);
  const ha2: Observer[] = [];
  let stopped = false;
  try {
    await daemon.start();

    // 1. Discovery: every config, each valid against the documented schema; the room's availability.
    await waitFor(() => `all configs (${CONFIG_TOPICS.filter((t) => ha.last(t) === undefined).slice(0, 5).join(', ')} missing)`, () => CONFIG_TOPICS.every((t) => ha.last(t) !== undefined));
    await waitFor('online', () => ha.last(`${BASE}/availability`) === 'online');
    const configTopics = new Set(ha.seen.filter((s) => s.topic.startsWith('homeassistant/')).map((s) => s.topic));
    assert.deepEqual([...configTopics].sort(), [...CONFIG_TOPICS].sort(), 'nothing else under the discovery prefix');
    for (const topic of CONFIG_TOPICS) {
      const payload: unknown = JSON.parse(ha.last(topic) ?? '');
      const schema = topic.startsWith('homeassistant/sensor/') ? haSensorConfigSchema : haBinarySensorConfigSchema;
      const r = schema.safeParse(payload);
      assert.ok(r.success, `${topic}: ${JSON.stringify(r.error?.issues)}`);
      assert.ok(ownEntityRules.safeParse(payload).success, topic);
    }
    const w8 = JSON.parse(ha.last(`homeassistant/sensor/${uid('W8', 'status')}/config`) ?? '{}') as { device: { model: string; via_device: string } };
    assert.equal(w8.device.model, 'LW-485 washer', 'the kind learned from the machine');
    assert.equal(w8.device.via_device, 'laundry_demo-room');
    await waitFor('free counts', () => ha.last(`${BASE}/room/free_washers`) === '10' && ha.last(`${BASE}/room/free_dryers`) === '6');

    // 2. A dryer's whole cycle: free → credited → running with a countdown → done → free.
    const d1 = (k: string): string => `${BASE}/machines/D1/${k}`;
    await waitFor('D1 idle', () => ha.last(d1('status')) === 'idle');
    const from = ha.seen.length;
    room.control.selectProgram(9, 2);
    const vend = await daemon.engine.cardSwipe({ readerId: 'reader-D1', uid: alice.uid, machineId: 'D1' });
    assert.equal(vend.result, 'captured', JSON.stringify(vend));
    await waitFor('D1 credited, one free dryer fewer', () => ha.last(d1('status')) === 'credited' && ha.last(`${BASE}/room/free_dryers`) === '5');
    room.control.pressStart(9);
    await waitFor('D1 running', () => ha.last(d1('status')) === 'running' && ha.last(d1('running')) === 'ON');
    const end = await waitFor('an expected end', () => (ha.last(d1('end')) !== 'None' ? ha.last(d1('end')) : false));
    assert.ok(Math.abs(Date.parse(end) - Date.now()) < 24 * 3600_000, end);
    assert.equal(ha.last(d1('door')), 'OFF');
    await waitFor('D1 done', () => ha.last(d1('status')) === 'done', 30_000);
    const countdown = ha.seen.slice(from).filter((s) => s.topic === d1('remaining')).map((s) => Number(s.payload));
    assert.ok(countdown.length >= 5, `a countdown: ${countdown.join(',')}`);
    const running = countdown.filter((n, i) => i > 0 && n > 0);
    for (let i = 1; i < running.length; i++) assert.ok((running[i] ?? 0) < (running[i - 1] ?? 0), `counts down: ${countdown.join(',')}`);
    await waitFor('D1 not running, no end', () => ha.last(d1('running')) === 'OFF' && ha.last(d1('end')) === 'None');
    room.control.setDoor(9, true);
    await waitFor('D1 free again', () => ha.last(d1('status')) === 'idle' && ha.last(d1('door')) === 'ON' && ha.last(`${BASE}/room/free_dryers`) === '6');
    room.control.setDoor(9, false);
    const statuses = ha.seen.slice(from).filter((s) => s.topic === d1('status')).map((s) => s.payload);
    assert.deepEqual(statuses, ['credited', 'running', 'done', 'idle']);

    // A coin machine cannot tell its time left: its end is the start the gateway saw plus the
    // configured cycle (30 minutes for C1).
    const c1 = (k: string): string => `${BASE}/machines/C1/${k}`;
    assert.equal((await daemon.engine.cardSwipe({ readerId: 'reader-C1', uid: alice.uid, machineId: 'C1' })).result, 'captured');
    await waitFor('the coins counted', () => room.control.rio8(20).channels[0]?.machine?.ready === true);
    room.control.pressStart(20, 0);
    await waitFor('C1 running', () => ha.last(c1('status')) === 'running' && ha.last(c1('running')) === 'ON');
    const startSeen = Date.now();
    const coinEnd = await waitFor('C1 expected end', () => (ha.last(c1('end')) !== 'None' ? ha.last(c1('end')) : false));
    assert.ok(Math.abs(Date.parse(coinEnd) - (startSeen + 30 * 60_000)) < 60_000, coinEnd);

    // 3. No money, card or account ever reached the building's broker.
    for (const s of ha.seen) {
      assert.ok(!s.payload.includes(alice.uid) && !s.payload.includes(alice.accountId), s.topic);
      if (s.payload.startsWith('{')) assert.ok(!/cent|amount|account|uid"|token|card|price|balance/i.test(Object.keys(flatten(JSON.parse(s.payload))).join(' ')), `${s.topic}: ${s.payload}`);
    }

    // 4. Home Assistant (re)starts: its birth message brings every config again, then the states.
    const beforeBirth = ha.seen.length;
    await ha.publish('homeassistant/status', 'online');
    await waitFor('configs again after the birth', () => CONFIG_TOPICS.every((t) => ha.seen.slice(beforeBirth).some((s) => s.topic === t)));
    await waitFor('states again after the birth', () => ha.seen.slice(beforeBirth).some((s) => s.topic === d1('status')));
    const lastConfig = Math.max(...CONFIG_TOPICS.map((t) => ha.seen.findIndex((s, i) => i >= beforeBirth && s.topic === t)));
    const firstState = ha.seen.findIndex((s, i) => i >= beforeBirth && s.topic.startsWith(`${BASE}/machines/`));
    assert.ok(lastConfig < firstState, 'configs before states');

    // 5. The broker dies: the room vends on; the outage is logged once however many retries.
    await broker.kill();
    // Completed while the broker is still down: nothing on the vend path waits for it.
    const outage = await daemon.engine.cardSwipe({ readerId: 'reader-W1', uid: alice.uid, machineId: 'W1' });
    assert.equal(outage.result, 'captured');
    assert.equal(broker.running, false);
    await waitFor('the outage logged', () => logLines.some((l) => l.includes('home assistant broker not reachable')));
    // Retries every 100-400 ms meanwhile.
    await sleep(2000);
    assert.equal(logLines.filter((l) => l.includes('home assistant broker not reachable')).length, 1, 'logged once');
    await waitFor('W1 credited in the room', () => daemon.machines.state('W1')?.status === 'credited');
    // It comes back empty (no persistence): everything is published again, W1's new state too.
    await broker.start();
    const back = await Observer.connect(broker.url);
    ha2.push(back);
    await waitFor('configs after the broker restart', () => CONFIG_TOPICS.every((t) => back.last(t) !== undefined));
    await waitFor('online after the broker restart', () => back.last(`${BASE}/availability`) === 'online');
    await waitFor('W1 credited after the restart', () => back.last(`${BASE}/machines/W1/status`) === 'credited');

    // 6. A hostile client: commands, junk births, fake configs and states. The room does not move.
    // C1's cycle ends by itself: let it, so whatever moves after this is the hostile client's doing.
    await waitFor('C1 done', () => room.control.rio8(20).channels[0]?.inUse === false && back.last(c1('status')) === 'idle', 30_000);
    const units = room.control.units();
    const before = JSON.stringify(units.map((u) => room.control.snapshot(u)).map(stable));
    const vends = daemon.ledger.recentVends(100).length;
    const births = daemon.homeAssistant?.stats().births ?? 0;
    const junk = [
      ['homeassistant/status', 'offline'],
      ['homeassistant/status', Buffer.alloc(200_000, 0xff)],
      ['homeassistant/status', '{"command":"start","machineId":"W2"}'],
      [`${BASE}/machines/W2/set`, 'start'],
      [`${BASE}/machines/W2/status/set`, 'running'],
      [`${BASE}/machines/W2/command`, '{"kind":"credit","amountCents":500}'],
      ['homeassistant/button/laundry_demo-room_W2_start/config', JSON.stringify({ command_topic: `${BASE}/machines/W2/start`, unique_id: 'x' })],
      [`${BASE}/machines/W2/start`, 'PRESS'],
      ['laundry/v1/demo-room/commands', '{"id":"x","kind":"start","machineId":"W2"}'],
    ] as const;
    for (const [topic, payload] of junk) await back.publish(topic, payload);
    await waitFor('the junk births received', () => (daemon.homeAssistant?.stats().births ?? 0) - births >= 3);
    await sleep(1000);
    assert.equal(JSON.stringify(units.map((u) => room.control.snapshot(u)).map(stable)), before, 'no machine changed');
    assert.equal(daemon.ledger.recentVends(100).length, vends, 'no vend');
    assert.equal((daemon.homeAssistant?.stats().births ?? 0) - births, 3, 'only the birth topic reaches the gateway');
    assert.equal(daemon.homeAssistant?.stats().connected, true);

    // 7. Stopping says offline, retained.
    stopped = true;
    await daemon.stop();
    await waitFor('offline', () => back.last(`${BASE}/availability`) === 'offline');
  } finally {
    await ha.close();
    for (const o of ha2) await o.close();
    if (!stopped) await daemon.stop();
    await room.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

function flatten(v: unknown, prefix = ''): Record<string, unknown> {
  if (v === null || typeof v !== 'object') return { [prefix]: v };
  return Object.assign({}, ...Object.entries(v).map(([k, x]) => flatten(x, prefix ? `${prefix}.${k}` : k)), { [prefix || '.']: true });
}

/** A unit's snapshot without what moves by itself (the simulated clock). */
function stable(s: unknown): unknown {
  return JSON.parse(JSON.stringify(s, (k, v: unknown) => (['remainingMs', 'remainingSec', 'doneMs', 'uptimeMs', 'wire', 'inputRegisters'].includes(k) ? undefined : v)));
}
