// The pure parts on their own: queue order, the exchange's checks, options, breaker and backoff
// on a hand-driven clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { UnitQueue } from '../../gateway/bus/queue.js';
import { Exchange } from '../../gateway/bus/exchange.js';
import { resolveBusMasterOptions } from '../../gateway/bus/options.js';
import { encodeReplyPdu } from '../../protocols/modbus/pdu.js';
import { encodeRtuReply, encodeRtuRequest } from '../../protocols/modbus/rtu.js';
import { encodeMbap } from '../../protocols/modbus/tcp.js';
import type { BusPriority } from '../../gateway/bus/types.js';
import { CircuitBreaker } from '../../gateway/bus/breaker.js';
import { Backoff } from '../../gateway/bus/backoff.js';

test('queue: commands before polls before probes; arrival order within a priority, per unit too', () => {
  const q = new UnitQueue<{ unit: number; priority: BusPriority; id: string }>();
  q.push({ unit: 1, priority: 'poll', id: 'p1a' });
  q.push({ unit: 2, priority: 'probe', id: 'x2' });
  q.push({ unit: 2, priority: 'poll', id: 'p2' });
  q.push({ unit: 1, priority: 'poll', id: 'p1b' });
  q.push({ unit: 3, priority: 'command', id: 'c3a' });
  q.push({ unit: 1, priority: 'command', id: 'c1' });
  q.push({ unit: 3, priority: 'command', id: 'c3b' });
  assert.equal(q.length, 7);
  const order: string[] = [];
  for (let j = q.shift(); j; j = q.shift()) order.push(j.id);
  assert.deepEqual(order, ['c3a', 'c1', 'c3b', 'p1a', 'p2', 'p1b', 'x2']);
  assert.equal(q.length, 0);
  q.push({ unit: 5, priority: 'poll', id: 'a' });
  q.push({ unit: 4, priority: 'command', id: 'b' });
  assert.deepEqual(q.takeAll().map((j) => j.id), ['a', 'b']);
  assert.equal(q.length, 0);
});

test('queue: any interleaving of pushes and shifts gives the best (priority, arrival) of all queued jobs, as a walk over per-unit lanes did', () => {
  const rank: Record<BusPriority, number> = { command: 0, poll: 1, probe: 2 };
  const op = fc.oneof(fc.record({ unit: fc.integer({ min: 1, max: 40 }), priority: fc.constantFrom<BusPriority>('command', 'poll', 'probe') }), fc.constant('shift' as const), fc.constant('takeAll' as const));
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      const q = new UnitQueue<{ unit: number; priority: BusPriority; id: number }>();
      // the reference: every queued job, the most urgent found by a full scan
      let ref: Array<{ unit: number; priority: BusPriority; id: number }> = [];
      let id = 0;
      for (const o of ops) {
        if (o === 'takeAll') {
          assert.deepEqual(q.takeAll().map((j) => j.id), ref.map((j) => j.id));
          ref = [];
        } else if (o === 'shift') {
          const best = ref.reduce<(typeof ref)[number] | undefined>((b, j) => (b === undefined || rank[j.priority] < rank[b.priority] ? j : b), undefined);
          assert.equal(q.shift()?.id, best?.id);
          ref = ref.filter((j) => j !== best);
        } else {
          const j = { ...o, id: id++ };
          q.push(j);
          ref.push(j);
        }
        assert.equal(q.length, ref.length);
      }
    }),
    { numRuns: 300 },
  );
});

test('exchange (rtu): byte-by-byte reply, exception, wrong unit, bad CRC, echo mismatch, trailing noise', () => {
  const req = { fc: 4, address: 16, quantity: 2 } as const;
  const good = encodeRtuReply(7, encodeReplyPdu({ kind: 'registers', fc: 4, registers: [3, 4] }));
  const ex = new Exchange('rtu', 7, req, 1);
  assert.deepEqual(ex.adu, encodeRtuRequest(7, req));
  for (let i = 0; i < good.length - 1; i++) assert.equal(ex.feed(good.subarray(i, i + 1)).status, 'pending');
  assert.deepEqual(ex.feed(good.subarray(good.length - 1)), { status: 'reply', reply: { kind: 'registers', fc: 4, registers: [3, 4] }, trailing: false });

  const exc = new Exchange('rtu', 7, req, 1).feed(encodeRtuReply(7, Buffer.from([0x84, 2])));
  assert.deepEqual(exc, { status: 'reply', reply: { kind: 'exception', fc: 4, code: 2 }, trailing: false });
  assert.equal(new Exchange('rtu', 8, req, 1).feed(good).status, 'bad');
  const badCrc = Buffer.from(good);
  badCrc[badCrc.length - 1] = (badCrc.readUInt8(badCrc.length - 1) ^ 1) & 0xff;
  assert.equal(new Exchange('rtu', 7, req, 1).feed(badCrc).status, 'bad');
  const w = { fc: 6, address: 256, value: 5 } as const;
  const wrongEcho = encodeRtuReply(7, encodeReplyPdu({ kind: 'register-written', fc: 6, address: 256, value: 6 }));
  assert.equal(new Exchange('rtu', 7, w, 1).feed(wrongEcho).status, 'bad');
  const trailing = new Exchange('rtu', 7, req, 1).feed(Buffer.concat([good, Buffer.from([0xff])]));
  assert.equal(trailing.status === 'reply' && trailing.trailing, true);
});

test('exchange (mbap): replies to older transactions are skipped, ours is taken', () => {
  const req = { fc: 3, address: 256, quantity: 1 } as const;
  const stale = encodeMbap(41, 1, encodeReplyPdu({ kind: 'registers', fc: 3, registers: [111] }));
  const ours = encodeMbap(42, 1, encodeReplyPdu({ kind: 'registers', fc: 3, registers: [222] }));
  const ex = new Exchange('mbap', 1, req, 42);
  assert.equal(ex.adu.readUInt16BE(0), 42);
  assert.equal(ex.feed(stale).status, 'pending');
  const r = ex.feed(ours);
  assert.deepEqual(r, { status: 'reply', reply: { kind: 'registers', fc: 3, registers: [222] }, trailing: false });
  assert.equal(ex.staleFrames, 1);
  const otherUnit = encodeMbap(43, 2, encodeReplyPdu({ kind: 'registers', fc: 3, registers: [1] }));
  assert.equal(new Exchange('mbap', 1, req, 43).feed(otherUnit).status, 'bad');
});

test('options: defaults, t3.5 from the line format, and validation', () => {
  const o = resolveBusMasterOptions({ busId: 'b', line: { baudRate: 19200 } });
  assert.equal(o.replyTimeoutMs, 100);
  assert.equal(o.framing, 'rtu');
  assert.equal(o.breaker.failureThreshold, 3);
  assert.ok(Math.abs(o.interFrameDelayMs - (3.5 * 11 * 1000) / 19200) < 1e-9);
  assert.equal(resolveBusMasterOptions({ busId: 'b', line: { baudRate: 115200 } }).interFrameDelayMs, 1.75);
  assert.equal(resolveBusMasterOptions({ busId: 'b' }).interFrameDelayMs, 0);
  assert.throws(() => resolveBusMasterOptions({ busId: 'b', replyTimeoutMs: 0 }));
  assert.throws(() => resolveBusMasterOptions({ busId: '' }));
});

function fakeClock(): { monotonic: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { monotonic: () => t, advance: (ms) => (t += ms) };
}

test('breaker opens after N consecutive failures and a success in between resets the count', () => {
  const clock = fakeClock();
  const b = new CircuitBreaker({ failureThreshold: 3, probeInitialMs: 100, probeMaxMs: 1000 }, clock);
  assert.equal(b.onFailure(), null);
  assert.equal(b.onFailure(), null);
  assert.equal(b.onSuccess(), null);
  assert.equal(b.consecutiveFailures, 0);
  b.onFailure();
  b.onFailure();
  assert.deepEqual(b.onFailure(), { to: 'open', consecutiveFailures: 3, retryInMs: 100 });
  assert.equal(b.state(), 'open');
  assert.equal(b.allow(), false);
});

test('half-open probes back off exponentially up to the cap, and a success closes the breaker', () => {
  const clock = fakeClock();
  const b = new CircuitBreaker({ failureThreshold: 1, probeInitialMs: 100, probeMaxMs: 350 }, clock);
  b.onFailure();
  const waits: number[] = [];
  for (let i = 0; i < 4; i++) {
    const w = b.retryInMs();
    waits.push(w);
    clock.advance(w - 1);
    assert.equal(b.allow(), false, 'still open just before the probe time');
    clock.advance(1);
    assert.equal(b.state(), 'half-open');
    assert.equal(b.allow(), true);
    assert.equal(b.onFailure(), null, 'a failed probe is no new transition');
  }
  assert.deepEqual(waits, [100, 200, 350, 350]);
  clock.advance(350);
  assert.equal(b.allow(), true);
  const t = b.onSuccess();
  assert.equal(t?.to, 'closed');
  assert.equal(b.state(), 'closed');
  // reopening starts from the initial wait again
  assert.deepEqual(b.onFailure(), { to: 'open', consecutiveFailures: 1, retryInMs: 100 });
});

test('reconnect backoff doubles, is capped, never comes early, and resets', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0);
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000]);
  b.reset();
  assert.equal(b.next(), 100);
  const j = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0.999);
  assert.ok(j.next() >= 100 && j.next() <= 240);
});
