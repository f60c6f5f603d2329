// Across gateway restarts, against a real Mosquitto: the same unique_ids every time, a machine
// taken out of the config taken out of Home Assistant (an empty retained config, which clears the
// broker's retained copy), and the last will: a gateway killed with SIGKILL leaves its entities
// unavailable through the retained "offline" the broker publishes for it. And credentials that
// cannot be read keep the feature off without troubling the room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../../gateway/core/clock.js';
import { createLogger, silentLogger } from '../../gateway/core/log.js';
import { HomeAssistantBridge, homeAssistantConfigSchema, type HaMachine } from '../../gateway/homeassistant/index.js';
import type { MachineState } from '../../gateway/machines/state.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { Observer, waitFor } from './observer.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function idle(machineId: string, kind: 'washer' | 'dryer'): MachineState {
  return { machineId, kind, status: 'idle', program: null, selectedProgram: null, remainingSec: 0, door: { closed: true, locked: false }, faultCode: 0, creditCents: 0, sensors: { loadWeightGrams: null, waterHardnessDh: null }, confirm: {}, observedAt: Date.now() };
}

async function run(url: string, entitiesFile: string, machines: HaMachine[]): Promise<HomeAssistantBridge> {
  const bridge = new HomeAssistantBridge({
    config: homeAssistantConfigSchema.parse({ url, reconnect: { minMs: 50, maxMs: 200 } }),
    room: { id: 'house-7', name: 'House 7 laundry' },
    machines,
    subscribeStates: () => () => undefined,
    currentStates: () => machines.map((m) => idle(m.machineId, m.kind ?? 'washer')),
    entitiesFile,
    logger: silentLogger(),
    clock: systemClock,
  });
  bridge.start();
  await waitFor('everything published', () => {
    const s = bridge.stats();
    return s.connected && s.waiting === 0 && s.inFlight === 0 && s.removing === 0;
  });
  return bridge;
}

const uniqueIds = (o: Observer): string[] =>
  [...new Set(o.seen.filter((s) => s.topic.startsWith('homeassistant/') && s.payload !== '').map((s) => (JSON.parse(s.payload) as { unique_id: string }).unique_id))].sort();

test('unique_ids are stable across restarts; a machine taken out of the config is removed from Home Assistant', { timeout: 60_000 }, async () => {
  const broker = await startMosquitto();
  const dir = mkdtempSync(join(tmpdir(), 'ha-life-'));
  const file = join(dir, 'home-assistant-entities.json');
  const all: HaMachine[] = [
    { machineId: 'W1', name: null, profile: 'lw485', kind: 'washer', cycleMinutes: null },
    { machineId: 'D2', name: null, profile: 'lw485', kind: 'dryer', cycleMinutes: null },
    { machineId: 'C1', name: null, profile: 'rio8', kind: 'washer', cycleMinutes: 30 },
  ];
  const watcher = await Observer.connect(broker.url, 'homeassistant/#');
  try {
    const first = await run(broker.url, file, all);
    await first.stop();
    const firstIds = uniqueIds(watcher);
    assert.equal(firstIds.length, 6 + 6 + 3 + 2);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { configTopics: string[] };
    assert.equal(saved.configTopics.length, 17);

    // The same config again: the same ids, nothing removed.
    const seen = watcher.seen.length;
    const second = await run(broker.url, file, all);
    await second.stop();
    await sleep(200);
    assert.deepEqual(uniqueIds(watcher), firstIds);
    assert.equal(watcher.seen.slice(seen).filter((s) => s.payload === '').length, 0);

    // D2 taken out of the config: its six configs emptied (retained), the rest unchanged.
    const third = await run(broker.url, file, all.filter((m) => m.machineId !== 'D2'));
    await third.stop();
    await sleep(200);
    const emptied = watcher.seen.filter((s) => s.payload === '').map((s) => s.topic).sort();
    assert.deepEqual(emptied, ['end', 'remaining', 'status'].map((k) => `homeassistant/sensor/laundry_house-7_D2_${k}/config`).concat(['door', 'fault', 'running'].map((k) => `homeassistant/binary_sensor/laundry_house-7_D2_${k}/config`)).sort());
    // A Home Assistant starting now finds no D2 among the retained configs.
    const fresh = await Observer.connect(broker.url, 'homeassistant/#');
    await sleep(300);
    const retained = fresh.seen.filter((s) => s.retain).map((s) => s.topic);
    await fresh.close();
    assert.equal(retained.length, 11);
    assert.ok(!retained.some((t) => t.includes('_D2_')));
    assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { configTopics: string[] }).configTopics.length, 11, 'the removal is done: forgotten');
  } finally {
    await watcher.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a gateway killed with SIGKILL leaves the retained availability "offline" (its last will)', { timeout: 60_000 }, async () => {
  const broker = await startMosquitto();
  const dir = mkdtempSync(join(tmpdir(), 'ha-will-'));
  const ha = await Observer.connect(broker.url, 'laundry-gateway/#');
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/homeassistant/bridge-child.ts', broker.url, join(dir, 'entities.json')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (l) => l === 'ready' && resolve());
      child.once('exit', (c) => reject(new Error(`child exited ${String(c)}`)));
    });
    assert.equal(ha.last('laundry-gateway/will-room/availability'), 'online');
    assert.equal(ha.last('laundry-gateway/will-room/machines/W1/status'), 'idle');
    child.kill('SIGKILL');
    await waitFor('the will', () => ha.last('laundry-gateway/will-room/availability') === 'offline', 10_000);
    // And it stays for whoever subscribes later: retained.
    const later = await Observer.connect(broker.url, 'laundry-gateway/will-room/availability');
    await waitFor('retained offline', () => later.seen.some((s) => s.retain && s.payload === 'offline'), 5000);
    await later.close();
  } finally {
    child.kill('SIGKILL');
    await ha.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a password file that cannot be read leaves the feature off, loudly, and throws nothing at the room', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ha-nopw-'));
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) });
  const bridge = new HomeAssistantBridge({
    config: homeAssistantConfigSchema.parse({ url: 'mqtt://127.0.0.1:1', passwordFile: join(dir, 'missing') }),
    room: { id: 'r' },
    machines: [{ machineId: 'W1', name: null, profile: 'lw485', kind: 'washer', cycleMinutes: null }],
    subscribeStates: () => () => undefined,
    currentStates: () => [idle('W1', 'washer')],
    entitiesFile: join(dir, 'entities.json'),
    logger,
    clock: systemClock,
  });
  try {
    bridge.start();
    await sleep(200);
    assert.equal(bridge.stats().connects, 0);
    assert.ok(lines.some((l) => l.includes('credentials not readable; not connecting') && l.includes('"level":50')));
  } finally {
    await bridge.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
