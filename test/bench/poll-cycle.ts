// Issue 8, item 1: the poll cycle of 32 LW-485 units on one bus at 19200 baud 8E1 against the
// wire-time limit the poll plan computes. The gateway's own Poller and BusMaster (serial
// transport) talk to the simulated room over a socat pty pair. A pty moves bytes at once, so the
// simulator keeps the line's clock (paceBaud): it takes a request only once the request's own
// characters would have crossed the wire, waits the t3.5 that ends a frame, then holds its reply
// back by the reply's wire time. The cycle time is the poller's own 'cycle' event.
//
// Two device turnarounds are measured: 0 ms beyond the t3.5 (the line is the only limit, so the
// ratio shows what the gateway adds; this is the figure with the issue's target) and the LW-485's
// typical 5 ms, against the plan's wire + turnaround.
import { setTimeout as sleep } from 'node:timers/promises';
import { createBus } from '../../gateway/bus/create.js';
import { planPoll, type PollPlan } from '../../gateway/bus/poll-plan.js';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { Poller } from '../../gateway/machines/poller.js';
import type { UnitConfig } from '../../gateway/profiles/config-schema.js';
import { SimRoom, type SimUnitConfig } from '../../simulator/index.js';
import { openPtyPair } from '../helpers/pty.js';
import { loadNote, median, numParam, round } from './lib-stats.js';
import type { BenchModule, BenchOptions, BenchResult, Figure } from './types.js';

const LINE = { baudRate: 19200, dataBits: 8, parity: 'even', stopBits: 1 } as const;
/** Cycles before measuring: the first includes discovery (identity and program table reads). */
const WARMUP = 2;

function simUnits(n: number): SimUnitConfig[] {
  return Array.from({ length: n }, (_, i) => ({ unit: i + 1, model: i % 3 === 2 ? 'lw485-dryer' : 'lw485-washer' }));
}

function gatewayUnits(n: number): UnitConfig[] {
  return Array.from({ length: n }, (_, i) => ({ unit: i + 1, profile: 'lw485', machineId: `M${i + 1}`, kind: i % 3 === 2 ? 'dryer' : 'washer' }));
}

interface Measured {
  cycles: number[];
  failedCycles: number;
}

/** Runs the real poller over a fresh pty pair and room; returns each measured cycle in seconds. */
async function measure(units: number, turnaroundMs: number, cycles: number, intervalMs: number): Promise<Measured> {
  const pty = await openPtyPair();
  const room = new SimRoom({ units: simUnits(units), timeScale: 1, replyDelayMs: turnaroundMs, paceBaud: LINE });
  room.start();
  const logger = silentLogger();
  try {
    await room.attachSerial({ path: pty.b, baudRate: LINE.baudRate, parity: LINE.parity, stopBits: LINE.stopBits });
    const bus = createBus(
      { transport: 'serial', serial: { path: pty.a, baudRate: LINE.baudRate, parity: LINE.parity, stopBits: LINE.stopBits }, master: { busId: 'bench', replyTimeoutMs: 200 } },
      { logger },
    );
    const up = new Promise<void>((resolve) => bus.once('port-up', () => resolve()));
    bus.start();
    await up;
    const poller = new Poller({ bus, units: gatewayUnits(units), intervalMs, logger, clock: systemClock });
    const out: number[] = [];
    let failedCycles = 0;
    let seen = 0;
    const done = new Promise<void>((resolve) => {
      poller.on('cycle', (c) => {
        seen++;
        if (seen <= WARMUP) return;
        if (c.failedUnits.length > 0) failedCycles++;
        else out.push(c.durationMs / 1000);
        if (out.length + failedCycles >= cycles) resolve();
      });
    });
    poller.start();
    const deadline = sleep((cycles + WARMUP + 10) * 3000, 'deadline' as const, { ref: false });
    const r = await Promise.race([done.then(() => 'done' as const), deadline]);
    await poller.stop();
    await bus.stop();
    if (r === 'deadline') throw new Error(`only ${out.length} of ${cycles} cycles completed in time`);
    return { cycles: out, failedCycles };
  } finally {
    await room.close();
    await pty.close();
  }
}

async function run(opts: BenchOptions): Promise<BenchResult> {
  const units = numParam(opts, 'units', 32, 32);
  const cycles = numParam(opts, 'cycles', 30, 5);
  const turnaroundMs = numParam(opts, 'turnaroundMs', 5, 5);
  // Back to back: the poller waits (interval - cycle) between cycles, the cycle itself is measured.
  const intervalMs = numParam(opts, 'intervalMs', 1000, 1000);
  const blocks = gatewayUnits(units).map((u) => ({ unit: u.unit, fc: 4 as const, address: 16, quantity: 14 }));
  const wireOnly: PollPlan = planPoll({ blocks, line: LINE, intervalMs, turnaroundMs: 0 });
  const withTurn: PollPlan = planPoll({ blocks, line: LINE, intervalMs, turnaroundMs });
  const limit = wireOnly.wireSeconds ?? NaN;
  const limitTurn = withTurn.cycleSeconds ?? NaN;

  opts.log(`poll-cycle: ${units} units, ${cycles} cycles, device turnaround 0 ms; ${wireOnly.verdict}`);
  const a = await measure(units, 0, cycles, intervalMs);
  opts.log(`poll-cycle: cycles ${a.cycles.map((x) => x.toFixed(3)).join(' ')} s`);
  opts.log(`poll-cycle: ${units} units, ${cycles} cycles, device turnaround ${turnaroundMs} ms; ${withTurn.verdict}`);
  const b = await measure(units, turnaroundMs, cycles, intervalMs);
  opts.log(`poll-cycle: cycles ${b.cycles.map((x) => x.toFixed(3)).join(' ')} s`);

  const cycA = median(a.cycles);
  const cycB = median(b.cycles);
  const ratioA = limit / cycA;
  const ratioB = limitTurn / cycB;
  const figures: Figure[] = [
    { label: `wire-time limit, ${units} × LW-485 status block @ 19200 8E1`, value: round(limit), unit: 's' },
    { label: `poll cycle, device turnaround 0 (median of ${a.cycles.length})`, value: round(cycA), unit: 's' },
    { label: 'wire limit / poll cycle (turnaround 0)', value: round(ratioA), unit: 'ratio', target: '≥ 0.90', pass: ratioA >= 0.9 },
    { label: `poll cycle, device turnaround ${turnaroundMs} ms (median of ${b.cycles.length})`, value: round(cycB), unit: 's' },
    { label: `(wire + ${turnaroundMs} ms turnaround) / poll cycle`, value: round(ratioB), unit: 'ratio' },
  ];
  const notes = [
    `real Poller + BusMaster + SerialTransport over a socat pty pair; simulator paces requests (wire time + t3.5 before it answers) and replies (wire time) at 19200 8E1`,
    `limit = per exchange (8-byte request + ${wireOnly.blocks.length > 0 ? 33 : 0}-byte reply) × 11 bits / 19200 + 2 × t3.5, × ${units}; the device turnaround is not part of it`,
    `fastest/slowest cycle (turnaround 0): ${round(Math.min(...a.cycles))} / ${round(Math.max(...a.cycles))} s; cycles with a failed unit: ${a.failedCycles + b.failedCycles}`,
    loadNote(),
  ];
  return { name: 'poll-cycle', figures, notes };
}

const bench: BenchModule = { name: 'poll-cycle', title: 'Poll cycle of 32 LW-485 units vs the wire-time limit', run };
export default bench;
