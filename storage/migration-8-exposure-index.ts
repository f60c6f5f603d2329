// Migration 8: a covering index for unsyncedExposure (storage/vends.ts), which the risk rules
// read on every card swipe. Without it the sum visits each unacknowledged account-funded vend's
// table row; after a week offline (60 000 outbox records, ~8 500 such vends) that was ~5 ms per
// swipe, a third of the swipe's latency. With the cost columns in the index SQLite reads only
// the index: ~0.8 ms for the same backlog (measured by test/bench/offline.ts).
import type { Migration } from './migration.js';

export const migration8: Migration = {
  version: 8,
  sql: `
CREATE INDEX vends_unsynced_cost ON vends(last_outbox_seq, account_id, state, captured_cents, amount_cents, refunded_cents)
  WHERE funding = 'account';
`,
};
