// RIO-8 profile against the simulated module and its coin machines: the credit flow, and above
// all that a lost write reply never makes a second train.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimRoom } from '../../simulator/index.js';
import { reconcileRio8 } from '../../gateway/profiles/rio8-codec.js';
import type { Rio8UnitConfig } from '../../gateway/profiles/config-schema.js';
import type { UnitDriver } from '../../gateway/profiles/types.js';
import { SimBus } from './sim-bus.js';
import { discover, waitFor } from './fixtures.js';

const CFG: Rio8UnitConfig = {
  unit: 20,
  profile: 'rio8',
  channels: [
    { channel: 0, machineId: 'C1', kind: 'washer', coinCents: 50, coinsPerProgram: { '1': 7 }, cycleMinutes: 30 },
    { channel: 2, machineId: 'C3', kind: 'dryer', coinCents: 100, coinsPerProgram: { '1': 2, '2': 4 }, cycleMinutes: 20 },
  ],
};

async function withRio(fn: (ctx: { room: SimRoom; bus: SimBus; rio: UnitDriver }) => Promise<void>, counterStart?: number): Promise<void> {
  const room = new SimRoom({
    units: [
      {
        unit: 20,
        model: 'rio8',
        channels: [{ coinCents: 50, coinsPerCycle: 7, cycleMinutes: 30 }, null, { coinCents: 100, coinsPerCycle: 2, cycleMinutes: 20 }],
        ...(counterStart !== undefined ? { pulseCounterStart: counterStart } : {}),
      },
    ],
    // Pulse trains run 10× fast: 7 coins take ~84 ms.
    timeScale: 10,
  });
  room.start();
  try {
    const bus = new SimBus(room);
    await fn({ room, bus, rio: await discover(bus, CFG) });
  } finally {
    await room.close();
  }
}

const channel = (room: SimRoom, n: number) => {
  const c = room.control.rio8(20).channels[n];
  assert.ok(c);
  return c;
};

test('discovery: module type, pulse timing, programs priced from the config, no capabilities', async () => {
  await withRio(async ({ rio }) => {
    assert.equal(rio.info.model, 'RIO-8 coin retrofit');
    assert.deepEqual(rio.info.details, { pulseOnMs: 60, pulseOffMs: 60 });
    assert.deepEqual(
      rio.info.machines.map((m) => [m.machineId, m.kind, m.programs.map((p) => p.listPriceCents)]),
      [
        ['C1', 'washer', [350]],
        ['C3', 'dryer', [200, 400]],
      ],
    );
    assert.ok(rio.info.machines.every((m) => Object.values(m.capabilities).every((v) => v === false)));
  });
});

test('credit: one write, waits for every pulse, evidence reconciles; the machine got exactly its coins', async () => {
  await withRio(async ({ room, bus, rio }) => {
    const o = await rio.commands('C1').credit({ program: 1, amountCents: 350 });
    assert.ok(o.status === 'accepted', JSON.stringify(o));
    assert.deepEqual(o.evidence, { profile: 'rio8', unit: 20, channel: 0, counterBefore: 0, coins: 7 });
    assert.equal(bus.count(20, 6), 1);
    const c = channel(room, 0);
    assert.equal(c.pulseCounter, 7);
    assert.equal(c.machine?.coins, 7);
    assert.equal(reconcileRio8(o.evidence, c.pulseCounter, c.pulsesPending), 'executed-accepted');
    room.control.pressStart(20, 0);
    await waitFor(() => channel(room, 0).inUse, 'machine running');
  });
});

test('in use: refused before any write, no coin lost', async () => {
  await withRio(async ({ room, bus, rio }) => {
    assert.equal((await rio.commands('C3').credit({ program: 1, amountCents: 200 })).status, 'accepted');
    room.control.pressStart(20, 2);
    const o = await rio.commands('C3').credit({ program: 1, amountCents: 200 });
    assert.equal(o.status, 'rejected');
    assert.ok(o.status === 'rejected' && o.reason === 'in_use' && o.deviceCode === null);
    assert.equal(bus.count(20, 6), 1);
    assert.equal(channel(room, 2).machine?.coinsLost, 0);
  });
});

test('a lost write reply NEVER writes again: the counter proves the train, coins inserted once', async () => {
  await withRio(async ({ room, bus, rio }) => {
    bus.beforeServe = (unit, req) => {
      if (unit === 20 && req.fc === 6) room.control.dropReplies(20, 1);
    };
    const o = await rio.commands('C1').credit({ program: 1, amountCents: 350 });
    assert.equal(o.status, 'accepted', JSON.stringify(o));
    assert.equal(bus.count(20, 6), 1);
    await waitFor(() => channel(room, 0).pulsesPending === 0, 'train over');
    assert.equal(channel(room, 0).pulseCounter, 7);
    assert.equal(channel(room, 0).machine?.coins, 7);
  });
});

test('a corrupted write reply is treated the same: one write, one train', async () => {
  await withRio(async ({ room, bus, rio }) => {
    bus.beforeServe = (unit, req) => {
      if (unit === 20 && req.fc === 6) room.control.corruptReplies(20, 1);
    };
    const o = await rio.commands('C3').credit({ program: 2, amountCents: 400 });
    assert.equal(o.status, 'accepted', JSON.stringify(o));
    assert.equal(bus.count(20, 6), 1);
    assert.equal(channel(room, 2).machine?.coins, 4);
  });
});

test('a write that never reached the module: one write, then read-back says not executed', async () => {
  await withRio(async ({ room, bus, rio }) => {
    bus.beforeServe = (unit, req) => {
      if (unit === 20 && req.fc === 6) room.control.setOffline(20, true);
    };
    bus.afterServe = (unit, req) => {
      if (unit === 20 && req.fc === 6) room.control.setOffline(20, false);
    };
    const o = await rio.commands('C1').credit({ program: 1, amountCents: 350 });
    assert.equal(o.status, 'rejected', JSON.stringify(o));
    assert.ok(o.status === 'rejected' && o.reason === 'not_executed' && o.evidence?.profile === 'rio8');
    assert.equal(bus.count(20, 6), 1);
    assert.equal(channel(room, 0).pulseCounter, 0);
    assert.equal(reconcileRio8(o.evidence, 0, 0), 'not-executed');
  });
});

test('write reply lost and the module gone: unknown, never a second write', async () => {
  await withRio(async ({ room, bus, rio }) => {
    bus.afterServe = (unit, req) => {
      if (unit === 20 && req.fc === 6) room.control.setOffline(20, true);
    };
    bus.beforeServe = (unit, req) => {
      if (unit === 20 && req.fc === 6) room.control.dropReplies(20, 1);
    };
    const o = await rio.commands('C1').credit({ program: 1, amountCents: 350 });
    assert.equal(o.status, 'unknown', JSON.stringify(o));
    assert.ok(o.status === 'unknown' && o.evidence?.profile === 'rio8');
    assert.equal(bus.count(20, 6), 1);
    room.control.setOffline(20, false);
    await waitFor(() => channel(room, 0).pulsesPending === 0, 'train over');
    assert.equal(reconcileRio8(o.evidence, channel(room, 0).pulseCounter, 0), 'executed-accepted');
  });
});

test('exception 06 (a train already running) → rejected busy; a train seen before writing → busy, nothing written', async () => {
  await withRio(async ({ room, bus, rio }) => {
    bus.beforeServe = (unit, req) => {
      // Someone else's train starts between our checks and our write.
      if (unit === 20 && req.fc === 6 && bus.beforeServe !== null) {
        bus.beforeServe = null;
        room.handleRequest(20, { fc: 6, address: 16, value: 3 });
      }
    };
    const o = await rio.commands('C1').credit({ program: 1, amountCents: 350 });
    assert.ok(o.status === 'rejected' && o.reason === 'busy' && o.deviceCode === 6, JSON.stringify(o));
    room.handleRequest(20, { fc: 6, address: 18, value: 50 });
    const writes = bus.count(20, 6);
    const p = await rio.commands('C3').credit({ program: 1, amountCents: 200 });
    assert.ok(p.status === 'rejected' && p.reason === 'busy' && p.deviceCode === null, JSON.stringify(p));
    assert.equal(bus.count(20, 6), writes);
  });
});

test('unknown program, unreachable module, and every other command unsupported', async () => {
  await withRio(async ({ bus, rio }) => {
    const c = rio.commands('C1');
    const u = await c.credit({ program: 2, amountCents: 350 });
    assert.ok(u.status === 'rejected' && u.reason === 'unknown_program');
    bus.breakerOpen.add(20);
    const b = await c.credit({ program: 1, amountCents: 350 });
    assert.ok(b.status === 'rejected' && b.reason === 'unreachable');
    assert.equal(bus.count(20, 6), 0);
    for (const o of [await c.start(), await c.pause(), await c.resume(), await c.cancel(), await c.addTime({ minutes: 10, amountCents: 100 })]) {
      assert.deepEqual(o, { status: 'unsupported' });
    }
    assert.throws(() => rio.commands('W1'), /no channel for machine W1/);
  });
});

test('the counter wraps at 65536 and the credit still completes', async () => {
  await withRio(async ({ room, rio }) => {
    const o = await rio.commands('C1').credit({ program: 1, amountCents: 350 });
    assert.equal(o.status, 'accepted');
    assert.ok(o.status === 'accepted' && o.evidence.profile === 'rio8' && o.evidence.counterBefore === 65533);
    assert.equal(channel(room, 0).pulseCounter, 4);
    assert.equal(reconcileRio8(o.evidence, 4), 'executed-accepted');
  }, 65533);
});

test('beforeSend gets the counter before the train can start; if it throws nothing is written', async () => {
  await withRio(async ({ room, bus, rio }) => {
    const seen: unknown[] = [];
    const o = await rio.commands('C1').credit({
      program: 1,
      amountCents: 350,
      beforeSend: async (ev) => {
        await Promise.resolve();
        seen.push({ ...ev, writesSoFar: bus.count(20, 6) });
      },
    });
    assert.equal(o.status, 'accepted');
    assert.deepEqual(seen, [{ profile: 'rio8', unit: 20, channel: 0, counterBefore: 0, coins: 7, writesSoFar: 0 }]);
    await assert.rejects(
      rio.commands('C1').credit({
        program: 1,
        amountCents: 350,
        beforeSend: () => Promise.reject(new Error('ledger refused')),
      }),
      /ledger refused/,
    );
    assert.equal(bus.count(20, 6), 1);
    assert.equal(channel(room, 0).pulseCounter, 7);
  });
});
