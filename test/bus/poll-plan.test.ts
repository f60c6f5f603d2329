import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeBlocks, planPoll, type ReadBlock } from '../../gateway/bus/poll-plan.js';

const line8E1 = { baudRate: 19200, dataBits: 8, parity: 'even', stopBits: 1 } as const;
const statusBlock = (unit: number): ReadBlock => ({ unit, fc: 4, address: 16, quantity: 14 });

test('32 LW-485 status blocks at 19200 8E1: 0.880 s of wire per cycle, does not fit 0.5 s', () => {
  const blocks = Array.from({ length: 32 }, (_, i) => statusBlock(i + 1));
  const plan = planPoll({ blocks, line: line8E1, intervalMs: 500, turnaroundMs: 5 });
  assert.equal(plan.blocks.length, 32);
  // each exchange: (8 + 33) bytes x 11 bits / 19200 + 2 x t3.5 (2.005 ms) = 27.5 ms
  assert.ok(plan.wireSeconds !== null && Math.abs(plan.wireSeconds - 0.88) < 0.001, String(plan.wireSeconds));
  assert.ok(plan.turnaroundSeconds !== null && Math.abs(plan.turnaroundSeconds - 0.16) < 1e-9);
  assert.equal(plan.fits, false);
  assert.equal(plan.verdict, '32 units: wire limit 0.880 s/cycle + turnaround 0.160 s > interval 0.5 s');
  const ok = planPoll({ blocks, line: line8E1, intervalMs: 2000 });
  assert.equal(ok.fits, true);
  assert.match(ok.verdict, /<= interval 2 s$/);
});

test('merging: adjacent and overlapping ranges of one unit and function, within the gap and the 125 limit', () => {
  const merged = mergeBlocks([
    { unit: 1, fc: 4, address: 16, quantity: 4 },
    { unit: 1, fc: 4, address: 20, quantity: 10 }, // adjacent
    { unit: 1, fc: 4, address: 18, quantity: 2 }, // inside
    { unit: 1, fc: 3, address: 256, quantity: 5 }, // other function: separate
    { unit: 2, fc: 4, address: 16, quantity: 14 }, // other unit: separate
    { unit: 1, fc: 4, address: 0, quantity: 6 }, // gap of 10 to 16: separate at maxGap 0
  ]);
  assert.deepEqual(merged, [
    { unit: 1, fc: 3, address: 256, quantity: 5 },
    { unit: 1, fc: 4, address: 0, quantity: 6 },
    { unit: 1, fc: 4, address: 16, quantity: 14 },
    { unit: 2, fc: 4, address: 16, quantity: 14 },
  ]);
  const gap = mergeBlocks([{ unit: 1, fc: 4, address: 0, quantity: 6 }, { unit: 1, fc: 4, address: 16, quantity: 14 }], 10);
  assert.deepEqual(gap, [{ unit: 1, fc: 4, address: 0, quantity: 30 }]);
  const limit = mergeBlocks([{ unit: 1, fc: 3, address: 0, quantity: 100 }, { unit: 1, fc: 3, address: 100, quantity: 30 }]);
  assert.equal(limit.length, 2, 'never past 125 registers');
  assert.ok(limit.every((b) => b.quantity <= 125));
});

test('TCP transports: the fit is not computed, and the verdict says so', () => {
  const plan = planPoll({ blocks: [statusBlock(1), statusBlock(2)], intervalMs: 500 });
  assert.equal(plan.fits, null);
  assert.equal(plan.wireSeconds, null);
  assert.match(plan.verdict, /not computed for a TCP transport/);
});
