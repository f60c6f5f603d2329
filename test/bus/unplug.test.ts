// A USB adapter pulled out and put back: the socat pty pair vanishes and reappears at the same
// paths. The master answers port-down without crashing, reopens, and polling resumes. Then the
// device-node watch on its own: a by-id style symlink removed while the port itself still works
// (as when a USB adapter's reads just return 0 bytes), and re-pointed at another device.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openPtyPair } from '../helpers/pty.js';
import type { BusResult } from '../../gateway/bus/types.js';
import { Responder } from './responder.js';
import { serialBus, waitFor } from './harness.js';
import { mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../gateway/core/log.js';
import { SerialTransport } from '../../gateway/bus/serial-transport.js';

test('serial: adapter unplugged and replugged → port-down, reopen, polling resumes, memory bounded', async () => {
  const pty = await openPtyPair();
  let responder = new Responder([1]);
  await responder.attachSerial(pty.b);
  const bus = await serialBus(pty.a, { replyTimeoutMs: 100, drainQuietMs: 20 });
  const events: string[] = [];
  bus.on('port-down', () => events.push('down'));
  bus.on('port-up', () => events.push('up'));
  const counts = new Map<string, number>();
  let last: BusResult | null = null;
  let running = true;
  // the poller: one request after another, as fast as the bus answers, with a small pause
  // when it answers port-down (as the real poller waits for its next cycle)
  const poller = (async () => {
    while (running) {
      const r = await bus.request(1, { fc: 4, address: 16, quantity: 14 });
      last = r;
      const k = r.ok ? 'ok' : r.kind;
      counts.set(k, (counts.get(k) ?? 0) + 1);
      if (!r.ok && r.kind === 'port-down') await new Promise((res) => setTimeout(res, 5));
    }
  })();
  try {
    await waitFor(() => (counts.get('ok') ?? 0) >= 20, 10_000, 'polling');
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;

    await responder.close();
    await pty.unplug();
    await waitFor(() => events.includes('down'), 10_000, 'port-down event');
    await waitFor(() => (counts.get('port-down') ?? 0) >= 20, 10_000, 'port-down results');
    assert.equal(bus.stats().portUp, false);
    const r = last as BusResult | null;
    assert.ok(r && !r.ok && r.kind === 'port-down');
    // unplugged for a while: the reopen attempts must find nothing and not pile up
    await waitFor(() => (counts.get('port-down') ?? 0) >= 200, 15_000, 'a spell of port-down');

    const okBefore = counts.get('ok') ?? 0;
    await pty.replug();
    responder = new Responder([1]);
    await responder.attachSerial(pty.b);
    await waitFor(() => events.includes('up'), 10_000, 'port-up event after replug');
    await waitFor(() => (counts.get('ok') ?? 0) >= okBefore + 20, 10_000, 'polling resumed');
    assert.equal(bus.stats().portUp, true);

    global.gc?.();
    const grownMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    console.log(`unplug/replug: ${JSON.stringify(Object.fromEntries(counts))}, heap growth ${grownMb.toFixed(1)} MB`);
    assert.ok(grownMb < 64, `heap grew ${grownMb.toFixed(1)} MB`);
    assert.equal(bus.stats().queueLength <= 1, true);
  } finally {
    running = false;
    await bus.stop();
    await poller;
    await responder.close();
    await pty.close();
  }
});

test('serial: the adapter vanishes while a request waits for its reply → port-down, sent: true', async () => {
  const pty = await openPtyPair();
  const responder = new Responder([1]);
  await responder.attachSerial(pty.b);
  const bus = await serialBus(pty.a);
  try {
    responder.holdNextReply(1);
    const inFlight = bus.request(1, { fc: 16, address: 256, values: [5, 1, 1, 250, 0] }, { priority: 'command', timeoutMs: 30_000 });
    await waitFor(() => (responder.requests.get(1) ?? 0) >= 1, 5000, 'command at the device');
    await responder.close();
    await pty.unplug();
    const r = await inFlight;
    // the device may have executed it: the vend engine must read back before anything else
    assert.ok(!r.ok && r.kind === 'port-down' && r.sent === true, JSON.stringify(r));
    const next = await bus.request(1, { fc: 4, address: 0, quantity: 1 });
    assert.ok(!next.ok && next.kind === 'port-down' && next.sent === false, JSON.stringify(next));
  } finally {
    await bus.stop();
    await pty.close();
  }
});

test('serial transport: node removed → closed by us and down; node back → reopened; node replaced → reopened on the new one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'by-id-'));
  const link = join(dir, 'usb-FTDI_FT232R_USB_UART_A10KZ1-if00-port0');
  const one = await openPtyPair();
  const two = await openPtyPair();
  const t = new SerialTransport({ path: link, watchIntervalMs: 30, reopenInitialMs: 30, reopenMaxMs: 100 }, { logger: silentLogger() });
  const events: string[] = [];
  t.on('up', () => events.push('up'));
  t.on('down', (reason) => events.push(`down: ${reason}`));
  try {
    t.open(); // nothing there yet: must wait quietly, not throw
    await waitFor(() => events.length === 0 && !t.isUp, 1000, 'still down');
    symlinkSync(one.a, link);
    await waitFor(() => t.isUp, 5000, 'up once the node appears');
    await assert.doesNotReject(t.write(Buffer.from([1, 2, 3])));

    unlinkSync(link);
    await waitFor(() => events.includes('down: device node gone'), 5000, 'down on node removal');
    await assert.rejects(t.write(Buffer.from([1])), /down/);

    symlinkSync(two.a, link);
    await waitFor(() => t.isUp, 5000, 'reopened');
    // atomically, as udev re-points a by-id link: the name never goes missing
    symlinkSync(one.a, `${link}.new`);
    renameSync(`${link}.new`, link);
    await waitFor(() => events.includes('down: device node replaced'), 5000, 'down on node replacement');
    await waitFor(() => events.filter((e) => e === 'up').length === 3, 5000, 'reopened on the new node');
    assert.equal(t.isUp, true);
  } finally {
    await t.close();
    assert.equal(t.isUp, false);
    await one.close();
    await two.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
