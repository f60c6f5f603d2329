// A remote start from the app, end to end: signed command → Mosquitto → uplink → a
// RemoteCommandTarget over the real MachineAccess → Poller → BusMaster → RTU over TCP → the
// simulated LW-485 washer, which starts its credited cycle. The result and the machine's new
// state come back to the cloud.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimRoom } from '../../simulator/index.js';
import { busConfigSchema } from '../../gateway/config/schema.js';
import { buildRoomBus } from '../../gateway/machines/room-bus.js';
import { machinesOf } from '../../gateway/engine/machine-access.js';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { RemoteCommandTarget } from '../../gateway/uplink/downlinks.js';
import type { MachineState } from '../../gateway/machines/state.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { ROOM, cloudKeys, makeConsumer, makeUplink, tempDir, testLedger, waitFor } from './helpers.js';

test('a signed remote start runs on a simulated LW-485 through the real bus master and poller', async () => {
  const broker = await startMosquitto();
  const room = new SimRoom({ units: [{ unit: 1, model: 'lw485-washer' }], timeScale: 1, replyDelayMs: 1 });
  room.start();
  const { port } = await room.listenTcp({ port: 0, framing: 'rtu' });
  const bus = buildRoomBus(
    busConfigSchema.parse({ id: 'bus1', transport: { type: 'tcp', host: '127.0.0.1', port, framing: 'rtu' }, pollIntervalMs: 100, units: [{ unit: 1, profile: 'lw485', machineId: 'W1', kind: 'washer' }] }),
    { logger: silentLogger(), clock: systemClock },
  );
  const machines = machinesOf([bus.poller]);
  // What the integrator writes: the command kinds onto MachineCommands.
  const target: RemoteCommandTarget = {
    command: ({ machineId, kind, args }) => {
      const c = machines.commander(machineId);
      if (kind === 'addTime') return args ? c.addTime(args) : Promise.resolve({ status: 'unsupported' });
      return c[kind]();
    },
  };
  const t = tempDir();
  const keys = cloudKeys();
  const ledger = testLedger(t.file('ledger.db'));
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'), { signingKey: keys.privateKey });
  const up = makeUplink(
    ledger,
    broker.url,
    {
      commandTarget: target,
      subscribeStates: (l) => {
        const h = (e: { state: MachineState }): void => l(e.state);
        bus.poller.on('state', h);
        return () => bus.poller.off('state', h);
      },
    },
    { configPublicKey: keys.publicB64 },
  );
  try {
    bus.start();
    await waitFor(() => bus.poller.discoveredUnits().length === 1 && machines.state('W1')?.status === 'idle', 'W1 discovered and idle');
    await up.start();
    await waitFor(() => cloud.received.status.some((s) => !s.retained && s.payload.state === 'online'), 'online');
    const credit = await machines.commander('W1').credit({ program: 2, amountCents: 350 });
    assert.equal(credit.status, 'accepted');
    await waitFor(() => room.control.lw485(1).stateName === 'CREDITED', 'W1 credited');

    const now = Math.floor(Date.now() / 1000);
    await cloud.publishCommand(ROOM, { id: 'app-start-1', machineId: 'W1', kind: 'start', issuedAtSec: now, expiresAtSec: now + 60 });
    await waitFor(() => cloud.received['command-result'].length === 1, 'command result');
    const r = cloud.received['command-result'][0]?.payload;
    assert.equal(r?.outcome, 'accepted', JSON.stringify(r));
    assert.equal(room.control.lw485(1).stateName, 'RUNNING');
    await waitFor(() => cloud.received.state.some((s) => s.machineId === 'W1' && s.payload.status === 'running'), 'running state upstream');
  } finally {
    await up.stop();
    await cloud.stop();
    await bus.stop();
    await room.close();
    ledger.close();
    await broker.close();
    t.cleanup();
  }
});
