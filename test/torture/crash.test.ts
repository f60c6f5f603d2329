// The quick crash torture (40 kills) in `npm test`; `npm run torture` runs the full one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crash from './crash.js';

test('crash torture, quick: gateway killed mid-vend, mid-refund, mid-downlink and mid-batch; nothing lost, nothing twice', { timeout: 10 * 60_000 }, async () => {
  const r = await crash.run({ quick: true, params: new Map(), seed: 7, log: (l) => console.log(`# ${l}`) });
  console.log(`# ${JSON.stringify(r.figures)}`);
  assert.deepEqual(r.violations, []);
  assert.ok(Number(r.figures.captured) > 0, 'vends were captured');
  assert.ok(Number(r.figures.topUpsApplied) > 0, 'top-ups were applied');
});
