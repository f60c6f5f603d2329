// The bus's per-request cuts (frames built and read by index, replies decoded from views into the
// received bytes, one Active object per exchange, no gap timer on TCP) at their seams: a decoded
// reply keeps its values when the bytes it came from are overwritten or the next reply arrives;
// a reply split anywhere (byte by byte included) decodes as it does whole; a flipped bit or
// garbage in front is never taken for an answer; a late reply that reaches the next request is
// refused, never taken; over a real socat pty and over TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Exchange, type FeedResult } from '../../gateway/bus/exchange.js';
import { BusMaster } from '../../gateway/bus/bus-master.js';
import { SerialTransport } from '../../gateway/bus/serial-transport.js';
import { TcpTransport } from '../../gateway/bus/tcp-transport.js';
import type { Transport } from '../../gateway/bus/transport.js';
import type { BusResult } from '../../gateway/bus/types.js';
import { silentLogger } from '../../gateway/core/log.js';
import { encodeReplyPdu, type ModbusReply, type ModbusRequest } from '../../protocols/modbus/pdu.js';
import { encodeRtuReply } from '../../protocols/modbus/rtu.js';
import { encodeMbap } from '../../protocols/modbus/tcp.js';
import { openPtyPair } from '../helpers/pty.js';
import { Responder } from './responder.js';
import { waitFor } from './harness.js';

const u16 = fc.integer({ min: 0, max: 0xffff });

/** A request of every function the bus speaks, with the reply a device would give it. */
const exchangeCase: fc.Arbitrary<{ req: ModbusRequest; reply: ModbusReply }> = fc.oneof(
  fc.record({ fc: fc.constantFrom(1 as const, 2 as const), address: u16, bits: fc.array(fc.boolean(), { minLength: 1, maxLength: 2000 }) }).map(({ fc: f, address, bits }) => ({
    req: { fc: f, address, quantity: bits.length },
    reply: { kind: 'bits' as const, fc: f, bits },
  })),
  fc.record({ fc: fc.constantFrom(3 as const, 4 as const), address: u16, registers: fc.array(u16, { minLength: 1, maxLength: 125 }) }).map(({ fc: f, address, registers }) => ({
    req: { fc: f, address, quantity: registers.length },
    reply: { kind: 'registers' as const, fc: f, registers },
  })),
  fc.record({ address: u16, value: fc.boolean() }).map(({ address, value }) => ({ req: { fc: 5 as const, address, value }, reply: { kind: 'coil-written' as const, fc: 5 as const, address, value } })),
  fc.record({ address: u16, value: u16 }).map(({ address, value }) => ({ req: { fc: 6 as const, address, value }, reply: { kind: 'register-written' as const, fc: 6 as const, address, value } })),
  fc.record({ address: u16, values: fc.array(u16, { minLength: 1, maxLength: 123 }) }).map(({ address, values }) => ({
    req: { fc: 16 as const, address, values },
    reply: { kind: 'registers-written' as const, fc: 16 as const, address, quantity: values.length },
  })),
  // an exception is an answer to any function
  fc.record({ fc: fc.constantFrom(3 as const, 4 as const), address: u16, code: fc.integer({ min: 1, max: 11 }) }).map(({ fc: f, address, code }) => ({
    req: { fc: f, address, quantity: 1 },
    reply: { kind: 'exception' as const, fc: f, code },
  })),
);

/** Split points: 0-6 cuts, or every byte on its own. */
const cuts = fc.oneof(fc.array(fc.nat(), { maxLength: 6 }), fc.constant('bytes' as const));

function pieces(frame: Buffer, how: number[] | 'bytes'): Buffer[] {
  const at = how === 'bytes' ? Array.from({ length: frame.length - 1 }, (_, i) => i + 1) : [...new Set(how.map((n) => 1 + (n % Math.max(1, frame.length - 1))))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...at, frame.length]) {
    if (c <= from) continue;
    // each piece its own buffer, as a transport hands them over
    out.push(Buffer.from(frame.subarray(from, c)));
    from = c;
  }
  return out;
}

/** Feeds every piece; all but the last must leave the exchange waiting. Then the fed bytes are overwritten. */
function feedAll(ex: Exchange, parts: Buffer[]): FeedResult {
  let r: FeedResult = { status: 'pending' };
  parts.forEach((p, i) => {
    r = ex.feed(p);
    if (i < parts.length - 1) assert.equal(r.status, 'pending', `piece ${i + 1} of ${parts.length}`);
  });
  for (const p of parts) p.fill(0xa5);
  return r;
}

test('exchange: a reply cut anywhere (byte by byte too), RTU or MBAP after stale frames, decodes as whole, and keeps its values when the bytes it came from are overwritten', () => {
  fc.assert(
    fc.property(exchangeCase, fc.integer({ min: 1, max: 247 }), cuts, fc.integer({ min: 0, max: 3 }), ({ req, reply }, unit, how, stale) => {
      const pdu = encodeReplyPdu(reply);
      const rtu = feedAll(new Exchange('rtu', unit, req, 1), pieces(encodeRtuReply(unit, pdu), how));
      assert.deepEqual(rtu, { status: 'reply', reply, trailing: false });

      const tid = 1000 + stale;
      const older = Array.from({ length: stale }, (_, i) => encodeMbap(1000 + i, unit, pdu));
      const mbapEx = new Exchange('mbap', unit, req, tid);
      const mbap = feedAll(mbapEx, pieces(Buffer.concat([...older, encodeMbap(tid, unit, pdu)]), how));
      assert.deepEqual(mbap, { status: 'reply', reply, trailing: false });
      assert.equal(mbapEx.staleFrames, stale);
    }),
    { numRuns: 400, seed: 16 },
  );
});

test('exchange (rtu): one flipped bit anywhere in a reply, or garbage in front of it, is never taken for an answer', () => {
  fc.assert(
    fc.property(exchangeCase, fc.integer({ min: 1, max: 247 }), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }), ({ req, reply }, unit, bit, junk) => {
      const frame = encodeRtuReply(unit, encodeReplyPdu(reply));
      const flipped = Buffer.from(frame);
      const at = bit % (frame.length * 8);
      flipped[at >> 3] = ((flipped[at >> 3] ?? 0) ^ (1 << (at & 7))) & 0xff;
      const r = new Exchange('rtu', unit, req, 1).feed(flipped);
      // a flip in the unit or function byte can make the frame look longer: still waiting then, never an answer
      assert.notEqual(r.status, 'reply', `bit ${at} of ${frame.length * 8}`);
      const noisy = new Exchange('rtu', unit, req, 1).feed(Buffer.concat([junk, frame]));
      assert.notEqual(noisy.status, 'reply', `garbage ${Buffer.from(junk).toString('hex')} in front`);
    }),
    { numRuns: 1000, seed: 16 },
  );
});

function regs(r: BusResult): number[] {
  assert.ok(r.ok, `expected a reply, got ${JSON.stringify(r)}`);
  return r.reply.kind === 'registers' ? r.reply.registers : [];
}

/** A bus master over its transport, with the transport's reads counted. */
async function busOn(transport: Transport & { isUp: boolean }, opts: { framing?: 'rtu' | 'mbap'; line?: { baudRate: number; parity: 'even' } }): Promise<{ bus: BusMaster; reads: () => number }> {
  let reads = 0;
  transport.on('data', () => (reads += 1));
  // Generous reply timeout: only B is meant to time out, and its reply is held, not raced.
  const bus = new BusMaster(transport, { busId: 'seams', replyTimeoutMs: 5000, drainQuietMs: 20, ...opts }, { logger: silentLogger() });
  bus.start();
  await waitFor(() => transport.isUp, 10_000, 'transport up');
  return { bus, reads: () => reads };
}

/**
 * The same story on any wire: a reply kept, a reply read one byte at a time, a late reply that
 * reaches the next request on the wire (refused, not taken), and the request after that answered
 * with its own values, the first reply's values untouched throughout.
 */
async function lateAndSplitStory(bus: BusMaster, responder: Responder, reads: () => number): Promise<void> {
  const first = regs(await bus.request(1, { fc: 4, address: 0, quantity: 4 }));
  const kept = [...first];
  assert.deepEqual(first, [1000, 1001, 1002, 1003]);

  // A reply that arrives one byte per read: the exchange waits for all of it.
  responder.dribbleReplies(1, 1, 5);
  const before = reads();
  assert.deepEqual(regs(await bus.request(1, { fc: 4, address: 100, quantity: 6 })), [1100, 1101, 1102, 1103, 1104, 1105]);
  // 17 bytes 5 ms apart: a busy machine may read a few together, never all at once
  assert.ok(reads() - before >= 2, `the reply came in ${reads() - before} reads`);

  // The device's registers change; its reply to B is held past B's timeout.
  assert.ok((await bus.request(1, { fc: 16, address: 0, values: [7, 7, 7, 7] }, { priority: 'command' })).ok);
  const seen = responder.requests.get(1) ?? 0;
  const releaseB = responder.holdNextReply(1);
  const b = await bus.request(1, { fc: 4, address: 0, quantity: 3 }, { timeoutMs: 150 });
  assert.equal(!b.ok && b.kind, 'timeout');
  // B's reply is held once B has reached the device (on a busy machine, maybe after its timeout).
  await waitFor(() => (responder.requests.get(1) ?? 0) >= seen + 1, 5000, 'B at the device');
  // C goes on the wire after B's drain; its own reply is held too, so B's late one reaches C first.
  responder.holdNextReply(1);
  const c = bus.request(1, { fc: 4, address: 0, quantity: 4 });
  await waitFor(() => (responder.requests.get(1) ?? 0) >= seen + 2, 5000, 'C at the device');
  releaseB();
  const cr = await c;
  assert.equal(!cr.ok && cr.kind, 'bad-frame', `B's late reply (3 registers) is not C's answer: ${JSON.stringify(cr)}`);
  // C's own reply came after B's: drained with the line, never kept for D.
  assert.deepEqual(regs(await bus.request(1, { fc: 4, address: 2, quantity: 4 })), [7, 7, 1004, 1005]);
  assert.deepEqual(first, kept, 'the first reply\'s values did not move');
}

test('serial over a socat pty: a reply read byte by byte, a late reply reaching the next request, kept values unchanged', async () => {
  const pty = await openPtyPair();
  const responder = new Responder([1]);
  await responder.attachSerial(pty.b);
  const logger = silentLogger();
  const transport = new SerialTransport({ path: pty.a, baudRate: 19200, parity: 'even', stopBits: 1, watchIntervalMs: 50, reopenInitialMs: 50, reopenMaxMs: 400 }, { logger });
  const { bus, reads } = await busOn(transport, { line: { baudRate: 19200, parity: 'even' } });
  try {
    await lateAndSplitStory(bus, responder, reads);
  } finally {
    await bus.stop();
    await responder.close();
    await pty.close();
  }
});

test('RTU over TCP (no inter-frame gap): a reply read byte by byte, a late reply reaching the next request, kept values unchanged', async () => {
  const responder = new Responder([1]);
  const port = await responder.listenTcp('rtu');
  const transport = new TcpTransport({ host: '127.0.0.1', port, reconnectInitialMs: 50, reconnectMaxMs: 400 }, { logger: silentLogger() });
  const { bus, reads } = await busOn(transport, { framing: 'rtu' });
  try {
    assert.equal(bus.options.interFrameDelayMs, 0, 'no t3.5 wait over TCP');
    await lateAndSplitStory(bus, responder, reads);
  } finally {
    await bus.stop();
    await responder.close();
  }
});
