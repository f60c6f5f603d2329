// Against the simulated laundry room (simulator/), over a socat pty: the wire faults the room
// injects, and the measured poll cycle of 32 LW-485 units at 19200 baud (printed, not asserted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimRoom } from '../../simulator/index.js';
import { planPoll, type ReadBlock } from '../../gateway/bus/poll-plan.js';
import { openPtyPair } from '../helpers/pty.js';
import { serialBus, SkipClock, tcpBus } from './harness.js';
import type { BusResult } from '../../gateway/bus/types.js';

const STATUS = { fc: 4, address: 16, quantity: 14 } as const;
const line = { baudRate: 19200, dataBits: 8, parity: 'even', stopBits: 1 } as const;

function units(n: number) {
  return Array.from({ length: n }, (_, i) => ({ unit: i + 1, model: i % 3 === 2 ? ('lw485-dryer' as const) : ('lw485-washer' as const) }));
}

function model(r: BusResult | undefined): number | undefined {
  return r?.ok && r.reply.kind === 'registers' ? r.reply.registers[0] : undefined;
}

test('sim: garbage before a reply, a late reply and a dead unit, over the pty', async () => {
  const pty = await openPtyPair();
  const room = new SimRoom({ units: units(3), timeScale: 60, replyDelayMs: 2 });
  room.start();
  await room.attachSerial({ path: pty.b, baudRate: 19200, parity: 'even', stopBits: 1 });
  const clock = new SkipClock();
  const bus = await serialBus(pty.a, { replyTimeoutMs: 1000, drainQuietMs: 500, breaker: { failureThreshold: 2, probeInitialMs: 60_000, probeMaxMs: 60_000 } }, clock);
  try {
    const modelReq = { fc: 4, address: 0, quantity: 1 } as const;
    assert.equal(model(await bus.request(1, modelReq)), 0x5701);
    assert.equal(model(await bus.request(3, modelReq)), 0x4401);

    room.control.garbage(1, Buffer.from([0x55, 0xaa, 0x01]));
    const g = await bus.request(1, STATUS);
    assert.equal(!g.ok && g.kind, 'bad-frame');
    assert.ok((await bus.request(1, STATUS)).ok, 'the next request after the drain is answered');

    // 200 ms after the timeout, 300 ms before the drain would end: margins for a loaded machine
    room.control.delayReplies(2, 300, 1);
    const late = await bus.request(2, { fc: 4, address: 0, quantity: 1 }, { timeoutMs: 100 });
    assert.equal(!late.ok && late.kind, 'timeout');
    // same unit, function and length as the late reply: the drain keeps it from being taken
    const serial = await bus.request(2, { fc: 4, address: 3, quantity: 1 });
    assert.ok(serial.ok && serial.reply.kind === 'registers' && serial.reply.registers[0] !== 0x5701);

    room.control.setOffline(2, true);
    for (let i = 0; i < 2; i++) assert.equal(((r) => !r.ok && r.kind)(await bus.request(2, STATUS, { timeoutMs: 100 })), 'timeout');
    const fast = await bus.request(2, STATUS);
    assert.equal(!fast.ok && fast.kind, 'breaker-open');
    assert.ok((await bus.request(3, STATUS)).ok);
    room.control.setOffline(2, false);
    clock.skip(60_000);
    assert.ok((await bus.request(2, STATUS)).ok, 'the probe is answered');
    assert.equal(bus.unitStats(2)?.breaker, 'closed');
  } finally {
    await bus.stop();
    await room.close();
    await pty.close();
  }
});

test('sim: Modbus TCP and RTU over TCP against the room', async () => {
  const room = new SimRoom({ units: units(2), timeScale: 60, replyDelayMs: 1 });
  room.start();
  try {
    for (const framing of ['mbap', 'rtu'] as const) {
      const { port } = await room.listenTcp({ port: 0, framing });
      const bus = await tcpBus(port, framing);
      try {
        assert.equal(model(await bus.request(1, { fc: 4, address: 0, quantity: 1 })), 0x5701);
        const st = await bus.request(2, STATUS);
        assert.ok(st.ok && st.reply.kind === 'registers' && st.reply.registers.length === 14);
      } finally {
        await bus.stop();
      }
    }
  } finally {
    await room.close();
  }
});

test('sim: measured poll cycle of 32 LW-485 units at 19200 8E1 over the pty (printed)', async () => {
  const blocks: ReadBlock[] = units(32).map((u) => ({ unit: u.unit, ...STATUS }));
  const plan = planPoll({ blocks, line, intervalMs: 1000, turnaroundMs: 5 });
  const measure = async (paced: boolean, cycles: number): Promise<number[]> => {
    const pty = await openPtyPair();
    const room = new SimRoom({ units: units(32), timeScale: 1, replyDelayMs: paced ? 5 : 0, ...(paced ? { paceBaud: line } : {}) });
    room.start();
    await room.attachSerial({ path: pty.b, baudRate: 19200, parity: 'even', stopBits: 1 });
    const bus = await serialBus(pty.a, { replyTimeoutMs: 2000 });
    const out: number[] = [];
    try {
      for (let c = 0; c < cycles; c++) {
        const t0 = performance.now();
        // the poller's way: each unit in turn, the next request when the last has its answer
        for (const b of blocks) {
          const r = await bus.request(b.unit, STATUS);
          assert.ok(r.ok, JSON.stringify(r));
        }
        out.push((performance.now() - t0) / 1000);
      }
    } finally {
      await bus.stop();
      await room.close();
      await pty.close();
    }
    return out;
  };
  const raw = await measure(false, 3);
  const paced = await measure(true, 2);
  const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(3)).join(', ');
  console.log(`poll plan: ${plan.verdict}`);
  console.log(`measured, pty without line pacing (software only): ${fmt(raw)} s per 32-unit cycle`);
  console.log(`measured, replies paced at 19200 8E1 + 5 ms turnaround: ${fmt(paced)} s per 32-unit cycle`);
});
