// The whole chain on real parts: poller → profiles → bus master → serial port → socat pty →
// simulator's strict RTU slave. Lost replies here are real timeouts on a real line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimRoom } from '../../simulator/index.js';
import { BusMaster } from '../../gateway/bus/bus-master.js';
import { SerialTransport } from '../../gateway/bus/serial-transport.js';
import type { BusClient } from '../../gateway/bus/types.js';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { Poller } from '../../gateway/machines/poller.js';
import { rio8FactsSchema } from '../../gateway/profiles/rio8-receipt.js';
import { openPtyPair } from '../helpers/pty.js';
import { waitFor } from './fixtures.js';
import { slow } from '../helpers/slowdown.js';

test('over a real serial line: discovery, polling, a lost command reply repeated once, a lost pulse-train reply never rewritten', async () => {
  const pty = await openPtyPair();
  const room = new SimRoom({
    units: [
      { unit: 1, model: 'lw485-washer' },
      { unit: 20, model: 'rio8', channels: [{ coinCents: 50, coinsPerCycle: 7, cycleMinutes: 30 }] },
    ],
    timeScale: 10,
    replyDelayMs: 2,
  });
  room.start();
  await room.attachSerial({ path: pty.b, baudRate: 19200, parity: 'even', stopBits: 1 });
  const logger = silentLogger();
  const transport = new SerialTransport({ path: pty.a, baudRate: 19200, parity: 'even', stopBits: 1, watchIntervalMs: 50 }, { logger });
  const master = new BusMaster(transport, { busId: 'wire', line: { baudRate: 19200, parity: 'even' }, replyTimeoutMs: slow(100) }, { logger });
  master.start();
  let trainWrites = 0;
  let commandWrites = 0;
  let dropNextWriteReply = false;
  // Per-test behaviour on the simulator: lose the reply of the next command write. Polls are
  // paused meanwhile, so the armed drop cannot hit a poll's reply instead.
  const bus: BusClient = {
    busId: master.busId,
    request: (unit, req, opts) => {
      if (req.fc === 6 || req.fc === 16) {
        if (req.fc === 6) trainWrites++;
        else commandWrites++;
        if (dropNextWriteReply) room.control.dropReplies(unit, 1);
        dropNextWriteReply = false;
      }
      return master.request(unit, req, opts);
    },
  };
  const poller = new Poller({
    bus,
    units: [
      { unit: 1, profile: 'lw485', machineId: 'W1' },
      { unit: 20, profile: 'rio8', channels: [{ channel: 0, machineId: 'C1', kind: 'washer', coinCents: 50, coinsPerProgram: { '1': 7 }, cycleMinutes: 30 }] },
    ],
    intervalMs: 50,
    logger,
    clock: systemClock,
    discoveryRetryMs: 200,
  });
  poller.on('error', (e) => {
    throw e;
  });
  poller.start();
  try {
    await waitFor(() => poller.state('W1')?.status === 'idle' && poller.state('C1')?.status === 'idle', 'both machines polled');
    assert.equal(poller.programs('W1')[3]?.name, 'HEAVY');

    await poller.stop();
    dropNextWriteReply = true;
    const o = await poller.commander('W1').credit({ program: 4, amountCents: 500 });
    assert.equal(o.status, 'accepted', JSON.stringify(o));
    assert.equal(commandWrites, 2, 'the same block repeated once after the lost reply');
    const snap = room.control.lw485(1);
    assert.equal(snap.creditCents, 500);
    assert.equal(snap.lastResult, 1, 'executed once: a second CREDIT would have been rejected busy');

    dropNextWriteReply = true;
    const c = await poller.commander('C1').credit({ program: 1, amountCents: 350 });
    assert.equal(c.status, 'accepted', JSON.stringify(c));
    assert.equal(trainWrites, 1);
    const ch = room.control.rio8(20).channels[0];
    assert.equal(ch?.pulseCounter, 7);
    assert.equal(ch?.machine?.coins, 7);
    poller.start();
    await waitFor(() => rio8FactsSchema.safeParse(poller.state('C1')?.confirm).data?.pulseCounter === 7 && poller.state('W1')?.status === 'credited', 'polls see the results');
  } finally {
    await poller.stop();
    await master.stop();
    await room.close();
    await pty.close();
  }
});
