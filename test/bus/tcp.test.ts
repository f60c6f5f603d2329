// The same master over TCP: RTU framing to a serial converter, and Modbus TCP (MBAP) where the
// transaction id, not the drain, is what keeps a late reply from being taken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BusResult } from '../../gateway/bus/types.js';
import { scanBus } from '../../gateway/bus/bus-scan.js';
import { createBus } from '../../gateway/bus/create.js';
import { silentLogger } from '../../gateway/core/log.js';
import { Responder } from './responder.js';
import { tcpBus, waitFor } from './harness.js';

function regs(r: BusResult): number[] {
  assert.ok(r.ok, `expected a reply, got ${JSON.stringify(r)}`);
  return r.reply.kind === 'registers' ? r.reply.registers : [];
}

for (const framing of ['rtu', 'mbap'] as const) {
  test(`tcp ${framing}: reads, writes, exception, bad frame, late reply`, async () => {
    const responder = new Responder([1, 5]);
    const port = await responder.listenTcp(framing);
    const bus = await tcpBus(port, framing, { replyTimeoutMs: 100, drainQuietMs: 300 });
    try {
      assert.deepEqual(regs(await bus.request(5, { fc: 4, address: 16, quantity: 2 }, { timeoutMs: 1000 })), [5016, 5017]);
      const w = await bus.request(1, { fc: 16, address: 256, values: [3, 1, 2, 350, 0] }, { priority: 'command', timeoutMs: 1000 });
      assert.deepEqual(w.ok && w.reply, { kind: 'registers-written', fc: 16, address: 256, quantity: 5 });
      const exc = await bus.request(1, { fc: 3, address: 5000, quantity: 1 }, { timeoutMs: 1000 });
      assert.ok(!exc.ok && exc.kind === 'exception' && exc.code === 2);

      responder.corruptReplies(1, 1);
      const bad = await bus.request(1, { fc: 4, address: 0, quantity: 1 }, { timeoutMs: 1000 });
      // MBAP has no CRC; the flipped byte lands in the data or the echo. RTU: a CRC error.
      if (framing === 'rtu') assert.equal(!bad.ok && bad.kind, 'bad-frame');

      const release = responder.holdNextReply(1);
      const late = await bus.request(1, { fc: 4, address: 0, quantity: 2 });
      assert.equal(!late.ok && late.kind, 'timeout');
      release();
      assert.deepEqual(regs(await bus.request(1, { fc: 4, address: 10, quantity: 2 }, { timeoutMs: 1000 })), [1010, 1011]);
    } finally {
      await bus.stop();
      await responder.close();
    }
  });
}

test('tcp mbap: a late reply arriving during the next transaction is skipped by transaction id', async () => {
  const responder = new Responder([1]);
  const port = await responder.listenTcp('mbap');
  // no drain worth the name: only the transaction id stands between the late reply and the next request
  const bus = await tcpBus(port, 'mbap', { replyTimeoutMs: 100, drainQuietMs: 1 });
  try {
    const releaseFirst = responder.holdNextReply(1);
    const late = await bus.request(1, { fc: 4, address: 0, quantity: 2 });
    assert.equal(!late.ok && late.kind, 'timeout');
    const releaseSecond = responder.holdNextReply(1);
    const pending = bus.request(1, { fc: 4, address: 10, quantity: 2 }, { timeoutMs: 5000 });
    await waitFor(() => (responder.requests.get(1) ?? 0) >= 2, 5000, 'second request at the device');
    // the late reply (same unit, function and length) reaches the master first, on the same stream
    releaseFirst();
    releaseSecond();
    assert.deepEqual(regs(await pending), [1010, 1011]);
    assert.equal(bus.stats().staleFrames, 1);
  } finally {
    await bus.stop();
    await responder.close();
  }
});

test('tcp: converter restarts → port-down, reconnect, requests resume', async () => {
  let responder = new Responder([1]);
  const port = await responder.listenTcp('rtu');
  const bus = await tcpBus(port, 'rtu');
  const events: string[] = [];
  bus.on('port-down', () => events.push('down'));
  bus.on('port-up', () => events.push('up'));
  try {
    assert.ok((await bus.request(1, { fc: 4, address: 0, quantity: 1 })).ok);
    await responder.close();
    await waitFor(() => !bus.stats().portUp, 5000, 'tcp down');
    const down = await bus.request(1, { fc: 4, address: 0, quantity: 1 });
    assert.equal(!down.ok && down.kind, 'port-down');
    assert.equal(!down.ok && down.kind === 'port-down' && down.sent, false);
    responder = new Responder([1]);
    await responder.listenTcp('rtu', port);
    await waitFor(() => bus.stats().portUp, 10_000, 'tcp reconnected');
    assert.deepEqual(regs(await bus.request(1, { fc: 4, address: 0, quantity: 1 })), [1000]);
    await waitFor(() => events.join(',') === 'down,up', 5000, 'port events');
  } finally {
    await bus.stop();
    await responder.close();
  }
});

test('bus scan: finds the units that answer, over Modbus TCP', async () => {
  const responder = new Responder([3, 6]);
  const port = await responder.listenTcp('mbap');
  const bus = await tcpBus(port, 'mbap', { drainQuietMs: 5 });
  try {
    const seen: number[] = [];
    const hits = await scanBus(bus, { from: 1, to: 6, timeoutMs: 300, onProgress: (u) => seen.push(u) });
    assert.deepEqual(hits.map((h) => [h.unit, h.answer, h.registers]), [
      [3, 'reply', [3000]],
      [6, 'reply', [6000]],
    ]);
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
  } finally {
    await bus.stop();
    await responder.close();
  }
});

test('createBus: a Modbus TCP bus from its config section; bad config is refused', async () => {
  const responder = new Responder([2]);
  const port = await responder.listenTcp('mbap');
  const bus = createBus({ transport: 'tcp', framing: 'mbap', tcp: { host: '127.0.0.1', port }, master: { busId: 'room-tcp', replyTimeoutMs: 1000 } }, { logger: silentLogger() });
  bus.start();
  try {
    await waitFor(() => bus.stats().portUp, 10_000, 'connected');
    assert.deepEqual(regs(await bus.request(2, { fc: 4, address: 0, quantity: 1 })), [2000]);
    assert.equal(bus.options.framing, 'mbap');
    assert.throws(() => createBus({ transport: 'tcp', framing: 'rtu', tcp: { host: '127.0.0.1', port: 0 }, master: { busId: 'x' } }, { logger: silentLogger() }));
    assert.throws(() => createBus({ transport: 'serial', serial: { path: '' }, master: { busId: 'x' } }, { logger: silentLogger() }));
  } finally {
    await bus.stop();
    await responder.close();
  }
});
