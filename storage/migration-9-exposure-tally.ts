// Migration 9: the unsynced exposure (storage/vends.ts: money authorized offline that the cloud
// has not acknowledged, which the risk rules read on every swipe) kept as a running tally per
// account instead of summed at each swipe. Even through its covering index (migration 8) the sum
// visited every unacknowledged vend: ~0.8 ms per swipe after a week offline (8 500 vends), the
// largest part of what a backlog added to a swipe (test/bench/offline.ts).
//
// Triggers keep the tally for every write to vends, whoever makes it: a vend counts, at its
// cost, while it is account-funded and its last outbox record is above the ack watermark. The ack
// (storage/outbox.ts) takes out the vends it moves below the watermark, in its transaction. The
// self-check compares the tally with the sum (storage/check.ts).
import type { Migration } from './migration.js';

/** What a vend costs while unsynced; the same CASE as the sum it replaces. Migration 14 builds its triggers from these too. */
export const cost = (v: 'NEW' | 'OLD'): string =>
  `CASE ${v}.state WHEN 'captured' THEN ${v}.captured_cents WHEN 'refunded' THEN ${v}.amount_cents - ${v}.refunded_cents ELSE ${v}.amount_cents END`;
const ACKED = `IFNULL((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'outbox_acked_seq'), 0)`;
export const counts = (v: 'NEW' | 'OLD'): string => `${v}.funding = 'account' AND ${v}.last_outbox_seq IS NOT NULL AND ${v}.last_outbox_seq > ${ACKED}`;
export const add = (v: 'NEW' | 'OLD', sign: '+' | '-'): string =>
  `INSERT INTO unsynced_exposure (account_id, cents) VALUES (IFNULL(${v}.account_id, ''), ${sign}(${cost(v)}))
     ON CONFLICT(account_id) DO UPDATE SET cents = cents + excluded.cents;`;

export const migration9: Migration = {
  version: 9,
  sql: `
CREATE TABLE unsynced_exposure (
  account_id TEXT PRIMARY KEY,
  cents      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO unsynced_exposure (account_id, cents)
  SELECT IFNULL(account_id, ''), SUM(CASE state WHEN 'captured' THEN captured_cents WHEN 'refunded' THEN amount_cents - refunded_cents ELSE amount_cents END)
  FROM vends WHERE funding = 'account' AND last_outbox_seq > ${ACKED} GROUP BY 1;

CREATE TRIGGER vends_exposure_insert AFTER INSERT ON vends WHEN ${counts('NEW')}
  BEGIN ${add('NEW', '+')} END;
CREATE TRIGGER vends_exposure_update_out AFTER UPDATE ON vends WHEN ${counts('OLD')}
  BEGIN ${add('OLD', '-')} END;
CREATE TRIGGER vends_exposure_update_in AFTER UPDATE ON vends WHEN ${counts('NEW')}
  BEGIN ${add('NEW', '+')} END;
CREATE TRIGGER vends_exposure_delete AFTER DELETE ON vends WHEN ${counts('OLD')}
  BEGIN ${add('OLD', '-')} END;
`,
};
