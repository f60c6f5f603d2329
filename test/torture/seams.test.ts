// The quick seams torture in `npm test`; `npm run torture` runs the full one (100 000 operations,
// 200 kills). Any violation fails it (docs/reliability.md "seams").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import seams from './seams.js';

test('seams torture, quick: card, QR, app commands, operator, faults, downlinks and failed ledger writes interleaved with kills; no cent lost or counted twice', { timeout: 10 * 60_000 }, async () => {
  const r = await seams.run({ quick: true, params: new Map(), seed: 11, log: (l) => console.log(`# ${l}`) });
  console.log(`# ${JSON.stringify(r.figures)}`);
  assert.deepEqual(r.violations, []);
  assert.ok(Number(r.figures.captured) > 0, 'vends were captured');
  assert.ok(Number(r.figures.writesFailed) > 0, 'ledger writes were failed');
});
