// The quick outage scenario (30 s of broker and consumer restarts during vends): no violations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import outage from './outage.js';

test('outage (quick): every ledger record reaches the consumer once, in seq order, through broker and consumer restarts', { timeout: 180_000 }, async () => {
  const r = await outage.run({ quick: true, params: new Map(), seed: 7, log: (s) => console.log(`# ${s}`) });
  console.log(`# outage figures: ${JSON.stringify(r.figures)}`);
  for (const n of r.notes) console.log(`# note: ${n}`);
  assert.deepEqual(r.violations, []);
  assert.ok(Number(r.figures.captured) > 0, 'vends were captured');
  assert.ok(Number(r.figures.brokerRestarts) > 0, 'the broker was restarted');
});
