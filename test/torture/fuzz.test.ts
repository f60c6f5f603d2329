// The quick fuzz run (about 2 000 cases per input) that npm test carries: no violations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fuzz from './fuzz.js';

test('fuzz (quick): every outside input ends accepted or refused with a reason; nothing throws', { timeout: 10 * 60_000 }, async (t) => {
  const seed = Number(process.env['FUZZ_SEED'] ?? Date.now() >>> 0);
  const r = await fuzz.run({ quick: true, params: new Map(), seed, log: () => undefined });
  for (const [k, v] of Object.entries(r.figures)) t.diagnostic(`${k}: ${String(v)}`);
  assert.deepEqual(r.violations, [], `seed ${seed}`);
});
