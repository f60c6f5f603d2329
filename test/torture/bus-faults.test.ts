// The quick bus-faults scenario (pty at 19200 8E1: corrupt, noisy, lost and late replies, units
// pulled mid-cycle, the adapter replugged, during vends): no violations. The dead-unit cycle
// time is reported, not asserted (a timing); the full run checks it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import busFaults from './bus-faults.js';

test('bus faults (quick): nothing captured without the machine, every failed credit refunded, a dead unit offline within 3 cycles', { timeout: 180_000 }, async () => {
  const r = await busFaults.run({ quick: true, params: new Map(), seed: 11, log: (s) => console.log(`# ${s}`) });
  console.log(`# bus-faults figures: ${JSON.stringify(r.figures)}`);
  for (const n of r.notes) console.log(`# note: ${n}`);
  assert.deepEqual(r.violations, []);
  assert.ok(Number(r.figures.vendsCaptured) > 0, 'vends were captured');
  assert.ok(Number(r.figures.cyclesToOfflineMax) <= 3);
});
