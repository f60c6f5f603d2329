// The quick seams torture in `npm test`; `npm run torture` runs the full one (100 000 operations, 200 kills).
// Two classes of violation are known and open (issue 12, docs/reliability.md "seams"): a cancel
// accepted by the machine whose refund the ledger does not hold, and a credit vend left open
// after a restart because its machine's evidence moved. They are printed as TODO here, not
// failed, until they are fixed; every other violation fails the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import seams from './seams.js';

const KNOWN_OPEN = [/CANCELs of paid credits, the ledger refunded \d+ for a cancel/, /still credit_sent after the restart settled/];

test('seams torture, quick: card, QR, app commands, operator, faults, downlinks and failed ledger writes interleaved with kills; no cent lost or counted twice', { timeout: 10 * 60_000 }, async (t) => {
  const r = await seams.run({ quick: true, params: new Map(), seed: 11, log: (l) => console.log(`# ${l}`) });
  console.log(`# ${JSON.stringify(r.figures)}`);
  const known = r.violations.filter((v) => KNOWN_OPEN.some((k) => k.test(v)));
  for (const v of known) await t.todo(`known open (issue 12): ${v}`);
  assert.deepEqual(r.violations.filter((v) => !known.includes(v)), []);
  assert.ok(Number(r.figures.captured) > 0, 'vends were captured');
  assert.ok(Number(r.figures.writesFailed) > 0, 'ledger writes were failed');
});
