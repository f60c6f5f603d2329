// The poller over the simulated room: discovery and its retry, polling, offline after three
// failed cycles (at once behind an open breaker), change detection, commands and read-back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimRoom } from '../../simulator/index.js';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { Poller, type CycleEvent, type StateEvent, type TickEvent } from '../../gateway/machines/poller.js';
import type { BusClient, BusResult } from '../../gateway/bus/types.js';
import type { UnitConfig } from '../../gateway/profiles/config-schema.js';
import type { DiscoveredUnit } from '../../gateway/profiles/types.js';
import { lw485FactsSchema } from '../../gateway/profiles/lw485-receipt.js';
import { SimBus } from './sim-bus.js';
import { waitFor } from './fixtures.js';

const UNITS: UnitConfig[] = [
  { unit: 1, profile: 'lw485', machineId: 'W1' },
  { unit: 9, profile: 'lw485', machineId: 'D1', kind: 'dryer' },
  { unit: 20, profile: 'rio8', channels: [{ channel: 0, machineId: 'C1', kind: 'washer', coinCents: 50, coinsPerProgram: { '1': 7 }, cycleMinutes: 30 }] },
];

interface Ctx {
  room: SimRoom;
  bus: SimBus;
  poller: Poller;
  states: StateEvent[];
  cycles: CycleEvent[];
  ticks: TickEvent[];
  discovered: DiscoveredUnit[];
}

async function withPoller(fn: (ctx: Ctx) => Promise<void>, o: { timeScale?: number; before?: (room: SimRoom) => void; start?: boolean } = {}): Promise<void> {
  const room = new SimRoom({
    units: [
      { unit: 1, model: 'lw485-washer' },
      { unit: 9, model: 'lw485-dryer' },
      { unit: 20, model: 'rio8', channels: [{ coinCents: 50, coinsPerCycle: 7, cycleMinutes: 30 }] },
    ],
    timeScale: o.timeScale ?? 1,
  });
  room.start();
  o.before?.(room);
  const bus = new SimBus(room);
  const poller = new Poller({ bus, units: UNITS, intervalMs: 15, logger: silentLogger(), clock: systemClock, discoveryRetryMs: 30 });
  const ctx: Ctx = { room, bus, poller, states: [], cycles: [], ticks: [], discovered: [] };
  poller.on('state', (e) => ctx.states.push(e));
  poller.on('cycle', (e) => ctx.cycles.push(e));
  poller.on('tick', (e) => ctx.ticks.push(e));
  poller.on('discovered', (e) => ctx.discovered.push(e));
  poller.on('error', (e) => {
    throw e;
  });
  if (o.start !== false) poller.start();
  try {
    await fn(ctx);
  } finally {
    await poller.stop();
    await room.close();
  }
}

const status = (p: Poller, id: string): string | undefined => p.state(id)?.status;

test('discovers every unit, then keeps every machine state; plan blocks come from config', async () => {
  await withPoller(async ({ poller, discovered, cycles }) => {
    await waitFor(() => ['W1', 'D1', 'C1'].every((id) => status(poller, id) === 'idle'), 'all machines idle');
    assert.deepEqual(discovered.map((d) => d.unit).sort((a, b) => a - b), [1, 9, 20]);
    assert.deepEqual(poller.programs('W1').map((p) => p.name), ['QUICK', 'NORMAL', 'HOT', 'HEAVY', 'DELICATE', 'RINSE']);
    assert.deepEqual(poller.programs('C1').map((p) => p.listPriceCents), [350]);
    assert.equal(poller.state('D1')?.kind, 'dryer');
    assert.equal(poller.states().length, 3);
    assert.equal(poller.discoveredUnits().length, 3);
    assert.ok(cycles.length >= 1);
    assert.ok(cycles.every((c, i) => c.cycle === i + 1 && c.durationMs >= 0));
    assert.deepEqual(
      poller.planBlocks().map((b) => [b.unit, b.fc, b.address, b.quantity]),
      [
        [1, 4, 16, 14],
        [9, 4, 16, 14],
        [20, 2, 0, 8],
        [20, 3, 16, 8],
        [20, 3, 48, 8],
      ],
    );
    assert.equal(poller.state('nope'), null);
    assert.throws(() => poller.commander('nope'), /no machine nope/);
  });
});

test('a unit that fails 3 consecutive cycles goes offline, keeping its last state, and comes back', async () => {
  await withPoller(async ({ room, poller, states, cycles, discovered }) => {
    await waitFor(() => status(poller, 'W1') === 'idle', 'W1 idle');
    assert.equal((await poller.commander('W1').credit({ program: 2, amountCents: 350 })).status, 'accepted');
    await waitFor(() => status(poller, 'W1') === 'credited', 'W1 credited');
    room.control.setOffline(1, true);
    const failedBefore = (): number => {
      let n = 0;
      for (let i = cycles.length - 1; i >= 0 && cycles[i]?.failedUnits.includes(1); i--) n++;
      return n;
    };
    let failedAtOffline = -1;
    poller.on('state', (e) => {
      if (e.state.machineId === 'W1' && e.state.status === 'offline') failedAtOffline = failedBefore();
    });
    await waitFor(() => status(poller, 'W1') === 'offline', 'W1 offline');
    // Two failed cycles completed; the third marks it offline.
    assert.equal(failedAtOffline, 2);
    const off = poller.state('W1');
    assert.equal(off?.program, 2);
    assert.equal(off?.creditCents, 350);
    assert.equal(status(poller, 'D1'), 'idle');
    room.control.setOffline(1, false);
    await waitFor(() => status(poller, 'W1') === 'credited', 'W1 back');
    const w1 = states.filter((s) => s.state.machineId === 'W1').map((s) => s.state.status);
    assert.deepEqual(w1.slice(-3), ['credited', 'offline', 'credited']);
    // Back from offline, the unit is discovered again (it may be another controller now).
    assert.equal(discovered.filter((d) => d.unit === 1).length, 2);
  });
});

test('behind an open breaker a unit is offline at once', async () => {
  await withPoller(async ({ bus, poller, cycles }) => {
    await waitFor(() => status(poller, 'C1') === 'idle', 'C1 idle');
    const mark = cycles.length;
    bus.breakerOpen.add(20);
    await waitFor(() => status(poller, 'C1') === 'offline', 'C1 offline');
    assert.ok(cycles.slice(mark).filter((c) => c.failedUnits.includes(20)).length <= 1);
    bus.breakerOpen.delete(20);
    await waitFor(() => status(poller, 'C1') === 'idle', 'C1 back');
  });
});

test('a unit absent at start-up is retried until found; a configured kind shows it offline meanwhile', async () => {
  await withPoller(
    async ({ room, poller, discovered }) => {
      await waitFor(() => status(poller, 'D1') === 'offline', 'D1 offline placeholder');
      assert.equal(poller.state('D1')?.kind, 'dryer');
      assert.deepEqual(poller.programs('D1'), []);
      const o = await poller.commander('D1').credit({ program: 1, amountCents: 100, minutes: 10 });
      assert.ok(o.status === 'rejected' && o.reason === 'unreachable');
      const rn = await poller.readNow('D1');
      assert.ok(!rn.ok && /unit 9 not discovered: timeout/.test(rn.detail), JSON.stringify(rn));
      room.control.setOffline(9, false);
      await waitFor(() => status(poller, 'D1') === 'idle', 'D1 discovered');
      assert.ok(discovered.some((d) => d.unit === 9));
      assert.equal(poller.programs('D1').length, 4);
    },
    { before: (room) => room.control.setOffline(9, true) },
  );
});

test('state events only on meaningful change; a tick every cycle carries the seconds', async () => {
  await withPoller(
    async ({ room, poller, states, ticks }) => {
      await waitFor(() => status(poller, 'W1') === 'idle', 'W1 idle');
      assert.equal((await poller.commander('W1').credit({ program: 6, amountCents: 150 })).status, 'accepted');
      room.control.pressStart(1);
      await waitFor(() => (poller.state('W1')?.remainingSec ?? 0) > 0, 'W1 running');
      const mark = states.length;
      const tickMark = ticks.length;
      const during = () => states.slice(mark).filter((s) => s.state.machineId === 'W1');
      // At 120× a sim minute is 500 ms real: wait for three whole minutes to be crossed.
      await waitFor(() => during().filter((e) => e.changed.includes('remainingMinute')).length >= 3, 'three minute crossings');
      const events = during();
      const tickCount = ticks.length - tickMark;
      assert.ok(tickCount > events.length, `${tickCount} ticks vs ${events.length} state events`);
      for (const e of events) {
        assert.ok(e.changed.length > 0);
        if (e.changed.length === 1 && e.changed[0] === 'remainingMinute') {
          assert.notEqual(Math.floor((e.previous?.remainingSec ?? 0) / 60), Math.floor((e.state.remainingSec ?? 0) / 60));
        }
      }
      // Idle machines said nothing more after their first state.
      assert.equal(states.filter((s) => s.state.machineId === 'C1').length, 1);
      const t = ticks[ticks.length - 1];
      assert.ok(t?.machines.some((m) => m.machineId === 'W1' && m.status === 'running' && (m.remainingSec ?? 0) > 0));
    },
    { timeScale: 120 },
  );
});

test('readNow returns a fresh state for the vend engine read-back', async () => {
  await withPoller(async ({ poller }) => {
    await waitFor(() => status(poller, 'W1') === 'idle', 'W1 idle');
    const o = await poller.commander('W1').credit({ program: 1, amountCents: 250 });
    assert.equal(o.status, 'accepted');
    const r = await poller.readNow('W1');
    assert.ok(r.ok);
    assert.equal(r.state.status, 'credited');
    assert.equal(r.state.creditCents, 250);
    assert.ok(o.status === 'accepted' && o.evidence.profile === 'lw485');
    assert.equal(lw485FactsSchema.parse(r.state.confirm).lastSeq, o.evidence.seq);
    assert.equal(poller.state('W1')?.status, 'credited');
  });
});

test('a wrong device at a configured address is never taken for the configured one', async () => {
  // A unit whose model register says 0x1234: answers every input-register read with it.
  const foreign: BusClient = {
    busId: 'foreign',
    request: async (_unit, req): Promise<BusResult> => {
      await Promise.resolve();
      if (req.fc !== 4) return { ok: false, kind: 'exception', code: 1, detail: 'illegal function', latencyMs: 1 };
      return { ok: true, reply: { kind: 'registers', fc: 4, registers: Array.from({ length: req.quantity }, (_, i) => (i === 0 ? 0x1234 : 1)) }, latencyMs: 1 };
    },
  };
  const poller = new Poller({ bus: foreign, units: [{ unit: 5, profile: 'lw485', machineId: 'W5', kind: 'washer' }], intervalMs: 10, logger: silentLogger(), clock: systemClock, discoveryRetryMs: 10 });
  const discovered: DiscoveredUnit[] = [];
  poller.on('discovered', (d) => discovered.push(d));
  poller.start();
  try {
    await waitFor(() => poller.state('W5')?.status === 'offline', 'W5 offline');
    assert.equal(discovered.length, 0);
  } finally {
    await poller.stop();
  }
});

test('a listener that throws stops the loop loudly with an error event', async () => {
  await withPoller(
    async ({ poller }) => {
      const errors: Error[] = [];
      poller.removeAllListeners('error');
      poller.on('error', (e) => errors.push(e));
      poller.once('cycle', () => {
        throw new Error('listener bug');
      });
      poller.start();
      await waitFor(() => errors.length === 1, 'error event');
      assert.match(errors[0]?.message ?? '', /listener bug/);
    },
    { start: false },
  );
});

test('reconcileFromState: stored evidence parsed and checked against a fresh read-back', async () => {
  const { commandEvidenceSchema, reconcileFromState } = await import('../../gateway/profiles/evidence.js');
  await withPoller(async ({ poller }) => {
    await waitFor(() => status(poller, 'W1') === 'idle' && status(poller, 'C1') === 'idle', 'idle');
    const w = await poller.commander('W1').credit({ program: 1, amountCents: 250 });
    assert.ok(w.status === 'accepted' && w.evidence.profile === 'lw485');
    const stored = commandEvidenceSchema.parse(JSON.parse(JSON.stringify(w.evidence)));
    const r = await poller.readNow('W1');
    assert.ok(r.ok);
    assert.equal(reconcileFromState(stored, r.state), 'executed-accepted');
    assert.equal(reconcileFromState({ ...w.evidence, seq: w.evidence.seq + 1 }, r.state), 'not-executed');
    assert.equal(reconcileFromState(stored, null), 'unknown');
    assert.equal(reconcileFromState(stored, { ...r.state, status: 'offline' }), 'unknown');
    const c = await poller.commander('C1').credit({ program: 1, amountCents: 350 });
    assert.ok(c.status === 'accepted');
    const rc = await poller.readNow('C1');
    assert.ok(rc.ok);
    assert.equal(reconcileFromState(commandEvidenceSchema.parse(c.evidence), rc.state), 'executed-accepted');
    assert.throws(() => commandEvidenceSchema.parse({ profile: 'lw485', unit: 1, seq: 0, code: 1 }));
  });
});

test('poller numbers are validated up front', () => {
  const bus: BusClient = { busId: 'x', request: () => Promise.resolve({ ok: false, kind: 'closed', detail: 'x', sent: false }) };
  const base = { bus, units: UNITS, logger: silentLogger(), clock: systemClock };
  assert.throws(() => new Poller({ ...base, intervalMs: 0 }));
  assert.throws(() => new Poller({ ...base, intervalMs: 100, offlineAfterFailedCycles: 0 }));
  assert.throws(() => new Poller({ ...base, intervalMs: 100, units: [UNITS[0], UNITS[0]].flatMap((u) => (u ? [u] : [])) }), /configured twice/);
  assert.ok(new Poller({ ...base, intervalMs: 100 }));
});

test('profiles swapped in the config: both units refused loudly, never discovered', async () => {
  const { Writable } = await import('node:stream');
  const { createLogger } = await import('../../gateway/core/log.js');
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const room = new SimRoom({ units: [{ unit: 1, model: 'lw485-washer' }, { unit: 20, model: 'rio8', channels: [{ coinCents: 50, coinsPerCycle: 7, cycleMinutes: 30 }] }] });
  const poller = new Poller({
    bus: new SimBus(room),
    units: [
      { unit: 20, profile: 'lw485', machineId: 'W1', kind: 'washer' },
      { unit: 1, profile: 'rio8', channels: [{ channel: 0, machineId: 'C1', kind: 'washer', coinCents: 50, coinsPerProgram: { '1': 7 }, cycleMinutes: 30 }] },
    ],
    intervalMs: 10,
    logger: createLogger({ level: 'error', destination: sink }),
    clock: systemClock,
    discoveryRetryMs: 10,
  });
  poller.on('error', (e) => {
    throw e;
  });
  poller.start();
  try {
    await waitFor(() => status(poller, 'W1') === 'offline' && status(poller, 'C1') === 'offline', 'both offline');
    assert.equal(poller.discoveredUnits().length, 0);
    const errors = lines.map((l) => JSON.parse(l) as { msg: string; detail: string; unit: number });
    assert.ok(errors.some((e) => e.unit === 20 && /refuses the LW-485 identity read/.test(e.detail)), lines.join(''));
    assert.ok(errors.some((e) => e.unit === 1 && /refuses the RIO-8 identity read/.test(e.detail)), lines.join(''));
    // Logged once per problem, not once per retry.
    assert.equal(errors.filter((e) => e.unit === 20).length, 1);
  } finally {
    await poller.stop();
    await room.close();
  }
});

test('readNow before the loop runs discovers the unit itself, once, even racing the loop', async () => {
  await withPoller(
    async ({ poller, discovered }) => {
      const [a, b] = await Promise.all([poller.readNow('W1'), poller.readNow('W1')]);
      assert.ok(a.ok && b.ok);
      assert.equal(a.state.status, 'idle');
      assert.equal(discovered.filter((d) => d.unit === 1).length, 1);
      poller.start();
      await waitFor(() => status(poller, 'C1') === 'idle', 'loop running');
      assert.equal(discovered.filter((d) => d.unit === 1).length, 1);
    },
    { start: false },
  );
});

test('planBlocks feeds the bus poll-plan check as is', async () => {
  const { planPoll } = await import('../../gateway/bus/poll-plan.js');
  const bus: BusClient = { busId: 'x', request: () => Promise.resolve({ ok: false, kind: 'closed', detail: 'x', sent: false }) };
  const poller = new Poller({ bus, units: UNITS, intervalMs: 1000, logger: silentLogger(), clock: systemClock });
  const plan = planPoll({ blocks: poller.planBlocks(), line: { baudRate: 19200, dataBits: 8, parity: 'even', stopBits: 1 }, intervalMs: 1000 });
  assert.equal(plan.units, 3);
  assert.equal(plan.blocks.length, 5);
  assert.equal(plan.fits, true);
});

test('stop() and start() without waiting never make two loops poll side by side', async () => {
  const room = new SimRoom({ units: [{ unit: 1, model: 'lw485-washer' }] });
  const sim = new SimBus(room);
  let inFlight = 0;
  let maxInFlight = 0;
  const bus: BusClient = {
    busId: 'count',
    request: async (unit, req, opts) => {
      const poll = opts?.priority === 'poll';
      if (poll) maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        // Slow enough that a second loop, if there were one, would overlap.
        await new Promise((r) => setTimeout(r, 2));
        return await sim.request(unit, req, opts);
      } finally {
        if (poll) inFlight--;
      }
    },
  };
  const poller = new Poller({ bus, units: [{ unit: 1, profile: 'lw485', machineId: 'W1' }], intervalMs: 10, logger: silentLogger(), clock: systemClock });
  let cycles = 0;
  poller.on('cycle', () => cycles++);
  poller.start();
  try {
    await waitFor(() => cycles >= 2, 'polling');
    for (let i = 0; i < 20; i++) {
      void poller.stop();
      poller.start();
      await new Promise((r) => setTimeout(r, 1));
    }
    const mark = cycles;
    await waitFor(() => cycles >= mark + 5, 'still polling');
    assert.equal(maxInFlight, 1);
  } finally {
    await poller.stop();
    await room.close();
  }
});
