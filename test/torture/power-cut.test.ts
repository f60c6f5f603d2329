// The quick power-cut torture (8 cuts) in `npm test`; `npm run torture` runs the full one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import powerCut from './power-cut.js';

test('power-cut torture, quick: gateway and room killed together, both restarted from what they kept; nothing lost, nothing twice', { timeout: 10 * 60_000 }, async () => {
  const r = await powerCut.run({ quick: true, params: new Map(), seed: 5, log: (l) => console.log(`# ${l}`) });
  console.log(`# ${JSON.stringify(r.figures)}`);
  assert.deepEqual(r.violations, []);
  assert.ok(Number(r.figures.captured) > 0, 'vends were captured');
});
