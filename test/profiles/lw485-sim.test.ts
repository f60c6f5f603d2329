// LW-485 profile against the simulated controller: discovery, every command outcome, the seq
// protocol under lost replies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimRoom } from '../../simulator/index.js';
import { reconcileLw485 } from '../../gateway/profiles/lw485-codec.js';
import type { CommandOutcome, UnitDriver } from '../../gateway/profiles/types.js';
import { SimBus } from './sim-bus.js';
import { discover, waitFor } from './fixtures.js';

async function withRoom(fn: (ctx: { room: SimRoom; bus: SimBus; washer: UnitDriver; dryer: UnitDriver }) => Promise<void>): Promise<void> {
  const room = new SimRoom({ units: [{ unit: 1, model: 'lw485-washer' }, { unit: 9, model: 'lw485-dryer' }], timeScale: 1, commandResultDelayMs: 30 });
  room.start();
  try {
    const bus = new SimBus(room);
    const washer = await discover(bus, { unit: 1, profile: 'lw485', machineId: 'W1', kind: 'washer' });
    const dryer = await discover(bus, { unit: 9, profile: 'lw485', machineId: 'D1' });
    await fn({ room, bus, washer, dryer });
  } finally {
    await room.close();
  }
}

function seqOf(o: CommandOutcome): number {
  assert.ok('evidence' in o && o.evidence?.profile === 'lw485', `no LW-485 evidence in ${JSON.stringify(o)}`);
  return o.evidence.seq;
}

test('discovery reads identity, the program table with names, and the last seq', async () => {
  await withRoom(async ({ washer, dryer }) => {
    assert.equal(washer.info.model, 'LW-485 washer');
    assert.equal(washer.info.modelCode, 0x5701);
    assert.equal(washer.info.capacityKg, 8);
    const w = washer.info.machines[0];
    assert.ok(w);
    assert.deepEqual(
      w.programs.map((p) => [p.program, p.name, p.durationMin, p.temperatureC, p.maxSpinRpm, p.listPriceCents]),
      [
        [1, 'QUICK', 30, 30, 1000, 250],
        [2, 'NORMAL', 45, 40, 1200, 350],
        [3, 'HOT', 60, 60, 1200, 450],
        [4, 'HEAVY', 75, 40, 1400, 500],
        [5, 'DELICATE', 40, 30, 600, 350],
        [6, 'RINSE', 20, 0, 1000, 150],
      ],
    );
    assert.equal(w.capabilities.addTime, false);
    const d = dryer.info.machines[0];
    assert.ok(d);
    assert.equal(d.kind, 'dryer');
    assert.deepEqual(d.programs.map((p) => p.name), ['LOW', 'MEDIUM', 'HIGH', 'NOHEAT']);
    assert.ok(d.programs.every((p) => p.durationMin === 10 && p.listPriceCents === 100 && p.temperatureC === null));
    assert.equal(d.capabilities.addTime, true);
    assert.equal(washer.info.details.lastSeqAtDiscovery, 0);
  });
});

test('a configured kind that does not match the model register is refused', async () => {
  const room = new SimRoom({ units: [{ unit: 9, model: 'lw485-dryer' }] });
  try {
    const bus = new SimBus(room);
    await assert.rejects(discover(bus, { unit: 9, profile: 'lw485', machineId: 'D1', kind: 'washer' }), /configured as a washer.*dryer/);
  } finally {
    await room.close();
  }
});

test('credit, start, pause, resume: accepted, with seq evidence that reconciles', async () => {
  await withRoom(async ({ room, washer }) => {
    const c = washer.commands('W1');
    const credit = await c.credit({ program: 2, amountCents: 350 });
    assert.equal(credit.status, 'accepted', JSON.stringify(credit));
    assert.equal(seqOf(credit), 1);
    let snap = room.control.lw485(1);
    assert.equal(snap.stateName, 'CREDITED');
    assert.equal(snap.creditCents, 350);
    assert.equal(reconcileLw485({ profile: 'lw485', unit: 1, seq: 1, code: 1 }, snap), 'executed-accepted');
    const start = await c.start();
    assert.equal(start.status, 'accepted');
    assert.equal(seqOf(start), 2);
    assert.equal((await c.pause()).status, 'accepted');
    assert.equal(room.control.lw485(1).stateName, 'PAUSED');
    assert.equal((await c.resume()).status, 'accepted');
    snap = room.control.lw485(1);
    assert.equal(snap.stateName, 'RUNNING');
    assert.equal(snap.lastSeq, 4);
  });
});

test('every LW-485 rejection code maps to its reason, with the device code and evidence', async () => {
  await withRoom(async ({ room, washer }) => {
    const c = washer.commands('W1');
    const expectRejected = (o: CommandOutcome, reason: string, code: number): void => {
      assert.equal(o.status, 'rejected', JSON.stringify(o));
      assert.ok(o.status === 'rejected');
      assert.equal(o.reason, reason);
      assert.equal(o.deviceCode, code);
      assert.ok(o.evidence);
    };
    expectRejected(await c.pause(), 'not_allowed', 7);
    expectRejected(await c.credit({ program: 9, amountCents: 350 }), 'unknown_program', 5);
    expectRejected(await c.credit({ program: 1, amountCents: 0 }), 'bad_argument', 6);
    expectRejected(await c.credit({ program: 1, amountCents: 250, minutes: 10 }), 'bad_argument', 6);
    assert.equal((await c.credit({ program: 1, amountCents: 250 })).status, 'accepted');
    expectRejected(await c.credit({ program: 1, amountCents: 250 }), 'busy', 2);
    room.control.setDoor(1, true);
    expectRejected(await c.start(), 'door_open', 3);
    room.control.setDoor(1, false);
    assert.equal((await c.cancel()).status, 'accepted');
    assert.equal(room.control.lw485(1).creditCents, 0);
    room.control.injectFault(1, 2);
    expectRejected(await c.credit({ program: 1, amountCents: 250 }), 'fault', 4);
  });
});

test('values no register can hold are refused before anything is sent', async () => {
  await withRoom(async ({ bus, washer }) => {
    const before = bus.count(1, 16);
    const o = await washer.commands('W1').credit({ program: 1, amountCents: 70_000 });
    assert.equal(o.status, 'rejected');
    assert.ok(o.status === 'rejected' && o.reason === 'bad_argument' && o.deviceCode === null);
    assert.equal(bus.count(1, 16), before);
  });
});

test('a lost write reply is repeated with the SAME seq and the command executes exactly once', async () => {
  await withRoom(async ({ room, bus, washer }) => {
    room.control.dropReplies(1, 1);
    const o = await washer.commands('W1').credit({ program: 3, amountCents: 450 });
    assert.equal(o.status, 'accepted', JSON.stringify(o));
    const writes = bus.sent.filter((s) => s.unit === 1 && s.req.fc === 16);
    assert.equal(writes.length, 2);
    assert.deepEqual(
      writes.map((w) => (w.req.fc === 16 ? w.req.values[0] : -1)),
      [1, 1],
    );
    const snap = room.control.lw485(1);
    // Executed twice, the second CREDIT would have been rejected busy (result 2).
    assert.equal(snap.lastSeq, 1);
    assert.equal(snap.lastResult, 1);
    assert.equal(snap.creditCents, 450);
  });
});

test('every write reply lost: the read-back still finds the seq executed once', async () => {
  await withRoom(async ({ room, bus, washer }) => {
    // Both write replies and the first read-back reply lost.
    room.control.dropReplies(1, 3);
    const o = await washer.commands('W1').credit({ program: 1, amountCents: 250 });
    assert.equal(o.status, 'accepted', JSON.stringify(o));
    assert.equal(bus.count(1, 16), 2);
    assert.equal(room.control.lw485(1).lastResult, 1);
  });
});

test('a unit that stops answering: unknown with evidence, and reconcile later says not executed', async () => {
  await withRoom(async ({ room, washer }) => {
    room.control.setOffline(1, true);
    const o = await washer.commands('W1').credit({ program: 1, amountCents: 250 });
    assert.equal(o.status, 'unknown', JSON.stringify(o));
    assert.ok(o.status === 'unknown' && o.evidence?.profile === 'lw485');
    room.control.setOffline(1, false);
    assert.equal(reconcileLw485(o.evidence, room.control.lw485(1)), 'not-executed');
    // The spent seq is never reused: the next command takes the one after it.
    const next = await washer.commands('W1').credit({ program: 1, amountCents: 250 });
    assert.equal(next.status, 'accepted');
    assert.equal(seqOf(next), o.evidence.seq + 1);
  });
});

test('EEPROM busy (exception 06) is retried with the same seq; when it lasts, rejected busy', async () => {
  await withRoom(async ({ room, bus, washer }) => {
    room.control.eepromBusy(1, 150);
    const o = await washer.commands('W1').credit({ program: 1, amountCents: 250 });
    assert.equal(o.status, 'accepted', JSON.stringify(o));
    assert.ok(bus.sent.some((s) => s.unit === 1 && s.result === 'exception 6'));
    room.control.eepromBusy(1, 60_000);
    const b = await washer.commands('W1').cancel();
    assert.equal(b.status, 'rejected');
    assert.ok(b.status === 'rejected' && b.reason === 'busy' && b.deviceCode === 6);
    assert.equal(room.control.lw485(1).stateName, 'CREDITED');
  });
});

test('behind an open breaker nothing is sent: rejected unreachable', async () => {
  await withRoom(async ({ bus, washer }) => {
    bus.breakerOpen.add(1);
    const o = await washer.commands('W1').credit({ program: 1, amountCents: 250 });
    assert.ok(o.status === 'rejected' && o.reason === 'unreachable');
  });
});

test('add time: dryers only, while running; a washer says unsupported', async () => {
  await withRoom(async ({ room, washer, dryer }) => {
    assert.deepEqual(await washer.commands('W1').addTime({ minutes: 10, amountCents: 100 }), { status: 'unsupported' });
    const d = dryer.commands('D1');
    assert.equal((await d.credit({ program: 3, amountCents: 200, minutes: 20 })).status, 'accepted');
    assert.equal((await d.start()).status, 'accepted');
    const before = room.control.lw485(9).remainingSec;
    assert.equal((await d.addTime({ minutes: 10, amountCents: 100 })).status, 'accepted');
    assert.ok(room.control.lw485(9).remainingSec > before + 500);
  });
});

test('the seq is seeded from the device and wraps 65535 → 1', async () => {
  await withRoom(async ({ room, bus }) => {
    // Another master (a service tool) left last seq at 65535.
    await bus.request(1, { fc: 16, address: 256, values: [65535, 2, 0, 0, 0] });
    await waitFor(() => room.control.lw485(1).lastSeq === 65535, 'the service tool command executed');
    const again = await discover(bus, { unit: 1, profile: 'lw485', machineId: 'W1' });
    assert.equal(again.info.details.lastSeqAtDiscovery, 65535);
    const o = await again.commands('W1').credit({ program: 1, amountCents: 250 });
    assert.equal(o.status, 'accepted');
    assert.equal(seqOf(o), 1);
  });
});

test('concurrent commands for one machine run one after another', async () => {
  await withRoom(async ({ washer }) => {
    const c = washer.commands('W1');
    const [a, b] = await Promise.all([c.credit({ program: 1, amountCents: 250 }), c.credit({ program: 1, amountCents: 250 })]);
    assert.equal(a.status, 'accepted');
    assert.ok(b.status === 'rejected' && b.reason === 'busy');
    assert.equal(seqOf(b), seqOf(a) + 1);
  });
});

test('rediscovery carries the spent seqs over: an unknown seq is never reused after the unit returns', async () => {
  await withRoom(async ({ room, bus, washer }) => {
    room.control.setOffline(1, true);
    const lost = await washer.commands('W1').credit({ program: 1, amountCents: 250 });
    assert.ok(lost.status === 'unknown' && lost.evidence?.profile === 'lw485');
    room.control.setOffline(1, false);
    const fresh = await discover(bus, { unit: 1, profile: 'lw485', machineId: 'W1' }, {}, null);
    const carried = await discover(bus, { unit: 1, profile: 'lw485', machineId: 'W1' }, {}, washer);
    // A driver that starts from the device alone would take the spent seq again...
    assert.equal(fresh.info.details.lastSeqAtDiscovery, lost.evidence.seq - 1);
    // ...the rediscovered one goes on after it.
    const o = await carried.commands('W1').credit({ program: 1, amountCents: 250 });
    assert.equal(o.status, 'accepted');
    assert.equal(seqOf(o), lost.evidence.seq + 1);
    assert.equal(reconcileLw485(lost.evidence, room.control.lw485(1)), 'not-executed');
  });
});

test('beforeSend gets the evidence before the block leaves; if it throws nothing is written', async () => {
  await withRoom(async ({ room, bus, washer }) => {
    const seen: { seq: number; writesSoFar: number }[] = [];
    const o = await washer.commands('W1').credit({
      program: 1,
      amountCents: 250,
      beforeSend: (ev) => {
        assert.equal(ev.profile, 'lw485');
        if (ev.profile === 'lw485') seen.push({ seq: ev.seq, writesSoFar: bus.count(1, 16) });
      },
    });
    assert.equal(o.status, 'accepted');
    assert.deepEqual(seen, [{ seq: 1, writesSoFar: 0 }]);
    await assert.rejects(
      washer.commands('W1').cancel().then(() =>
        washer.commands('W1').credit({
          program: 1,
          amountCents: 250,
          beforeSend: () => {
            throw new Error('ledger refused');
          },
        }),
      ),
      /ledger refused/,
    );
    assert.equal(bus.count(1, 16), 2);
    assert.equal(room.control.lw485(1).stateName, 'IDLE');
  });
});

test('old and rediscovered drivers share one queue and one seq counter', async () => {
  await withRoom(async ({ bus, washer }) => {
    const first = washer.commands('W1').credit({ program: 1, amountCents: 250 });
    const again = await discover(bus, { unit: 1, profile: 'lw485', machineId: 'W1' }, {}, washer);
    const queuedOld = washer.commands('W1').start();
    const viaNew = again.commands('W1').pause();
    const [a, b, c] = await Promise.all([first, queuedOld, viaNew]);
    assert.deepEqual([a.status, b.status, c.status], ['accepted', 'accepted', 'accepted']);
    assert.deepEqual([seqOf(a), seqOf(b), seqOf(c)], [1, 2, 3]);
  });
});
