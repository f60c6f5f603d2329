// A broker that stops reading (stalled, swapping, a saturated link): a TCP relay in front of a
// real Mosquitto that stops forwarding on demand, the one fault Mosquitto will not produce when
// asked. The state listener keeps returning at once, what waits stays one value per topic, the
// publishes in flight stay within the window, the slowness is logged once, and when the broker
// reads again the newest values reach it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../../gateway/core/clock.js';
import { createLogger } from '../../gateway/core/log.js';
import { HomeAssistantBridge, homeAssistantConfigSchema } from '../../gateway/homeassistant/index.js';
import type { MachineState } from '../../gateway/machines/state.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { Observer, waitFor } from './observer.js';

interface Relay {
  url: string;
  stall(on: boolean): void;
  close(): Promise<void>;
}

async function relay(brokerPort: number): Promise<Relay> {
  const pairs: { client: Socket; upstream: Socket }[] = [];
  const server: Server = createServer((client) => {
    const upstream = createConnection({ port: brokerPort, host: '127.0.0.1' });
    pairs.push({ client, upstream });
    client.pipe(upstream);
    upstream.pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    // Stalled: nothing the client writes is read any more, so nothing reaches the broker.
    stall(on) {
      for (const { client, upstream } of pairs) {
        if (on) {
          client.unpipe(upstream);
          client.pause();
        } else client.pipe(upstream);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const { client } of pairs) client.destroy();
        server.close(() => resolve());
      }),
  };
}

function state(machineId: string, i: number): MachineState {
  return { machineId, kind: 'washer', status: 'running', program: 2, selectedProgram: null, remainingSec: 3600 - i, door: { closed: true, locked: true }, faultCode: 0, creditCents: 0, sensors: { loadWeightGrams: null, waterHardnessDh: null }, confirm: {}, observedAt: Date.now() };
}

test('a broker that stops reading costs the poll loop nothing and a bounded map; the newest values arrive when it reads again', { timeout: 60_000 }, async () => {
  const broker = await startMosquitto();
  const r = await relay(broker.port);
  const dir = mkdtempSync(join(tmpdir(), 'ha-slow-'));
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) });
  const machines = Array.from({ length: 16 }, (_, i) => `W${i + 1}`);
  let listener: ((s: MachineState) => void) | null = null;
  const bridge = new HomeAssistantBridge({
    config: homeAssistantConfigSchema.parse({ url: r.url, maxInFlight: 8 }),
    room: { id: 'slow' },
    machines: machines.map((machineId) => ({ machineId, name: null, profile: 'lw485' as const, kind: 'washer' as const, cycleMinutes: null })),
    subscribeStates: (l) => {
      listener = l;
      return () => (listener = null);
    },
    currentStates: () => [],
    entitiesFile: join(dir, 'entities.json'),
    logger,
    clock: systemClock,
  });
  const ha = await Observer.connect(broker.url, 'laundry-gateway/#');
  try {
    bridge.start();
    await waitFor('connected and idle', () => bridge.stats().connected && bridge.stats().waiting === 0 && bridge.stats().inFlight === 0);
    const emit = listener as ((s: MachineState) => void) | null;
    assert.ok(emit);
    r.stall(true);
    // A minute's countdown for 16 machines, 200 times over: every value a new one.
    let maxWaiting = 0;
    let maxInFlight = 0;
    for (let i = 0; i < 200 * 60; i += 60) {
      for (const m of machines) emit(state(m, i));
      const s = bridge.stats();
      maxWaiting = Math.max(maxWaiting, s.waiting);
      maxInFlight = Math.max(maxInFlight, s.inFlight);
    }
    // Topics per machine: 6 states and the fault's attributes; plus the room's two counts.
    assert.ok(maxWaiting <= machines.length * 7 + 2, `waiting ${maxWaiting}`);
    assert.ok(maxInFlight <= 8, `in flight ${maxInFlight}`);
    await sleep(5600);
    assert.equal(lines.filter((l) => l.includes('home assistant broker slow')).length, 1, 'slowness logged once');
    r.stall(false);
    await waitFor('the newest countdown', () => machines.every((m) => ha.last(`laundry-gateway/slow/machines/${m}/remaining`) === String(Math.ceil((3600 - 199 * 60) / 60))), 20_000);
  } finally {
    await bridge.stop();
    await ha.close();
    await r.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
