// The bus master against a strict slave over a real socat pty pair: framing, late replies,
// corrupted frames, exceptions, a dying unit, priorities and an orderly stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPtyPair } from '../helpers/pty.js';
import type { BusResult } from '../../gateway/bus/types.js';
import { createBus } from '../../gateway/bus/create.js';
import { silentLogger } from '../../gateway/core/log.js';
import { Responder } from './responder.js';
import { serialBus, SkipClock, waitFor } from './harness.js';
import type { BusMasterOptions } from '../../gateway/bus/options.js';

function regs(r: BusResult): number[] {
  assert.ok(r.ok, `expected a reply, got ${JSON.stringify(r)}`);
  assert.equal(r.reply.kind, 'registers');
  return r.reply.kind === 'registers' ? r.reply.registers : [];
}

async function setup(units: number[], opts: Partial<BusMasterOptions> = {}, clock?: SkipClock) {
  const pty = await openPtyPair();
  const responder = new Responder(units);
  await responder.attachSerial(pty.b);
  const bus = await serialBus(pty.a, opts, clock);
  return {
    pty,
    responder,
    bus,
    async close() {
      await bus.stop();
      await responder.close();
      await pty.close();
    },
  };
}

test('serial: reads, writes and an exception reply, each checked against its request', async () => {
  const t = await setup([1, 2]);
  try {
    assert.deepEqual(regs(await t.bus.request(1, { fc: 4, address: 16, quantity: 3 })), [1016, 1017, 1018]);
    assert.deepEqual(regs(await t.bus.request(2, { fc: 3, address: 256, quantity: 2 })), [2256, 2257]);
    const w6 = await t.bus.request(2, { fc: 6, address: 300, value: 7 }, { priority: 'command' });
    assert.deepEqual(w6.ok && w6.reply, { kind: 'register-written', fc: 6, address: 300, value: 7 });
    const w16 = await t.bus.request(1, { fc: 16, address: 256, values: [9, 1, 2, 250, 0] }, { priority: 'command' });
    assert.deepEqual(w16.ok && w16.reply, { kind: 'registers-written', fc: 16, address: 256, quantity: 5 });
    assert.equal(t.responder.register(1, 259), 250);
    assert.equal(t.responder.register(2, 300), 7);

    const exc = await t.bus.request(1, { fc: 4, address: 2000, quantity: 1 });
    assert.equal(exc.ok, false);
    assert.ok(!exc.ok && exc.kind === 'exception' && exc.code === 2, JSON.stringify(exc));
    const s = t.bus.unitStats(1);
    assert.equal(s?.exceptions, 1);
    assert.equal(s?.ok, 2);
    assert.equal(s?.breaker, 'closed', 'an exception is an answer: the unit is alive');
    assert.equal(s?.histogram.cumulative.at(-1), 3);
    assert.ok((s?.latencyMs.max ?? -1) >= 0);
    await assert.rejects(t.bus.request(0, { fc: 4, address: 0, quantity: 1 }), RangeError);
    await assert.rejects(t.bus.request(1, { fc: 3, address: 0, quantity: 126 }));
  } finally {
    await t.close();
  }
});

test('serial: a late reply after a timeout is drained, and the next request gets its own answer', async () => {
  const t = await setup([1], { replyTimeoutMs: 100, drainQuietMs: 300 });
  try {
    const release = t.responder.holdNextReply(1);
    const late = await t.bus.request(1, { fc: 4, address: 0, quantity: 2 });
    assert.equal(!late.ok && late.kind, 'timeout');
    assert.equal(!late.ok && late.kind === 'timeout' && late.sent, true);
    release(); // the reply to the timed-out request goes out now, while the master drains
    // same unit, function and length: only the drain keeps [1000, 1001] from being taken for it
    assert.deepEqual(regs(await t.bus.request(1, { fc: 4, address: 10, quantity: 2 })), [1010, 1011]);
    const st = t.bus.stats();
    assert.equal(st.drainedBytes, 9, 'the whole late reply was drained');
    assert.equal(t.bus.unitStats(1)?.timeouts, 1);
  } finally {
    await t.close();
  }
});

test('serial: a corrupted frame counts as a bad frame and the noise after it is drained', async () => {
  const t = await setup([1], { drainQuietMs: 300 });
  try {
    t.responder.corruptReplies(1, 1);
    const bad = await t.bus.request(1, { fc: 4, address: 16, quantity: 14 });
    assert.equal(!bad.ok && bad.kind, 'bad-frame');
    // noise right after: the master is still draining and must swallow it
    t.responder.garbage(Buffer.from([0x01, 0x04, 0x1c, 0xde, 0xad]));
    assert.deepEqual(regs(await t.bus.request(1, { fc: 4, address: 16, quantity: 2 })), [1016, 1017]);
    assert.equal(t.bus.unitStats(1)?.badFrames, 1);
    assert.equal(t.bus.stats().drainedBytes, 5);
    // bytes on an idle line are dropped, never kept for the next request
    t.responder.garbage(Buffer.from([0x01, 0x04, 0x04, 0, 1, 0, 2]));
    await waitFor(() => t.bus.stats().unsolicitedBytes >= 7, 5000, 'unsolicited bytes counted');
    assert.deepEqual(regs(await t.bus.request(1, { fc: 4, address: 20, quantity: 2 })), [1020, 1021]);
  } finally {
    await t.close();
  }
});

test('serial: a unit that dies goes behind its breaker, the others are not slowed, and it comes back', async () => {
  const clock = new SkipClock();
  const t = await setup([1, 2, 3], { replyTimeoutMs: 200, drainQuietMs: 20, breaker: { failureThreshold: 3, probeInitialMs: 60_000, probeMaxMs: 120_000 } }, clock);
  const events: string[] = [];
  t.bus.on('unit-offline', (e) => events.push(`offline ${e.unit} ${e.retryInMs}`));
  t.bus.on('unit-online', (e) => events.push(`online ${e.unit}`));
  const heard = (): number => t.responder.requests.get(2) ?? 0;
  try {
    const cycle = () => Promise.all([1, 2, 3].map((u) => t.bus.request(u, { fc: 4, address: 16, quantity: 14 })));
    for (const r of await cycle()) assert.ok(r.ok);
    t.responder.setOffline(2, true);
    for (let i = 0; i < 3; i++) {
      const r = await cycle();
      assert.equal(((x) => !x?.ok && x?.kind)(r[1]), 'timeout');
    }
    assert.equal(t.bus.unitStats(2)?.breaker, 'open');
    await waitFor(() => events.includes('offline 2 60000'), 5000, 'unit-offline event');

    // while open: answered at once, without touching the wire; units 1 and 3 get every answer
    const before = heard();
    for (let i = 0; i < 5; i++) {
      const r = await cycle();
      assert.ok(r[0]?.ok && r[2]?.ok);
      assert.equal(((x) => !x?.ok && x?.kind === 'breaker-open' && !x.sent)(r[1]), true);
    }
    assert.equal(heard(), before, 'no request reached unit 2');
    assert.equal(t.bus.unitStats(2)?.breakerRejected, 5);
    assert.equal(t.bus.unitStats(1)?.timeouts, 0);
    assert.equal(t.bus.unitStats(3)?.timeouts, 0);

    // probe time: one request goes out, fails, and the wait doubles
    clock.skip(60_000);
    assert.equal(t.bus.unitStats(2)?.breaker, 'half-open');
    assert.equal(((x) => !x?.ok && x?.kind)((await cycle())[1]), 'timeout');
    assert.equal(heard(), before + 1);
    assert.equal(t.bus.unitStats(2)?.breaker, 'open');
    clock.skip(60_000);
    assert.equal(((x) => !x?.ok && x?.kind)((await cycle())[1]), 'breaker-open');

    t.responder.setOffline(2, false);
    clock.skip(60_000);
    const back = await cycle();
    assert.ok(back.every((r) => r.ok));
    assert.equal(t.bus.unitStats(2)?.breaker, 'closed');
    await waitFor(() => events.includes('online 2'), 5000, 'unit-online event');
  } finally {
    await t.close();
  }
});

test('createBus: a serial bus from its config section takes t3.5 from the port\'s line format', async () => {
  const pty = await openPtyPair();
  const responder = new Responder([4]);
  await responder.attachSerial(pty.b);
  const bus = createBus({ transport: 'serial', serial: { path: pty.a, baudRate: 9600, parity: 'none', stopBits: 2 }, master: { busId: 'room-a' } }, { logger: silentLogger() });
  bus.start();
  try {
    assert.ok(Math.abs(bus.options.interFrameDelayMs - (3.5 * 11 * 1000) / 9600) < 1e-9);
    await waitFor(() => bus.stats().portUp, 10_000, 'port up');
    assert.deepEqual(regs(await bus.request(4, { fc: 3, address: 7, quantity: 1 }, { timeoutMs: 1000 })), [4007]);
  } finally {
    await bus.stop();
    await responder.close();
    await pty.close();
  }
});

test('serial: a command overtakes the queued polls', async () => {
  const t = await setup([1, 2, 3]);
  try {
    const order: string[] = [];
    const polls: Promise<unknown>[] = [];
    for (let i = 0; i < 12; i++) {
      const unit = (i % 3) + 1;
      polls.push(t.bus.request(unit, { fc: 4, address: 16, quantity: 14 }).then(() => order.push(`poll${i}`)));
    }
    const cmd = t.bus.request(2, { fc: 16, address: 256, values: [1, 1, 1, 250, 0] }, { priority: 'command' }).then((r) => {
      order.push('command');
      return r;
    });
    await Promise.all([...polls, cmd]);
    assert.ok((await cmd).ok);
    assert.ok(order.indexOf('command') <= 1, `command ran at position ${order.indexOf('command')}: ${order.join(' ')}`);
  } finally {
    await t.close();
  }
});

test('serial: stop() lets the request on the wire finish and answers the queue with closed', async () => {
  const t = await setup([1]);
  try {
    const release = t.responder.holdNextReply(1);
    const first = t.bus.request(1, { fc: 4, address: 0, quantity: 1 }, { timeoutMs: 5000 });
    await waitFor(() => (t.responder.requests.get(1) ?? 0) >= 1, 5000, 'first request on the wire');
    const rest = [1, 2, 3].map((a) => t.bus.request(1, { fc: 4, address: a, quantity: 1 }));
    const stopped = t.bus.stop();
    release();
    assert.deepEqual(regs(await first), [1000]);
    for (const r of await Promise.all(rest)) assert.equal(!r.ok && r.kind, 'closed');
    await Promise.all([stopped, t.bus.stop()]); // a second stop() is the same stop
    const after = await t.bus.request(1, { fc: 4, address: 0, quantity: 1 });
    assert.equal(!after.ok && after.kind, 'closed');
  } finally {
    await t.close();
  }
});
