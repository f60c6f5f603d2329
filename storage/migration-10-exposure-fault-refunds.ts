// Migration 10: a fault refund (or a cancel's, or an operator's: refundCaptured, table
// vend_adjustments) lowers what an unsynced vend cost, so it lowers the unsynced exposure too.
// Before, the tally (migration 9) kept the captured amount until the ack: a customer whose cycle
// a fault cut short was capped offline as if the refunded money were still spent. A vend counts
// at captured minus its adjustment while it is account-funded and above the ack watermark; an
// adjustment to a vend the cloud already acknowledged changes no exposure (the vend is out of
// it), so the tally never goes below what the vends sum to. The vend row is frozen after its
// capture (migration 1), so the adjustment's own insert is the one event to follow.
import type { Migration } from './migration.js';

const ACKED = `IFNULL((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'outbox_acked_seq'), 0)`;

export const migration10: Migration = {
  version: 10,
  sql: `
UPDATE unsynced_exposure SET cents = cents - IFNULL((
  SELECT SUM(a.amount_cents) FROM vend_adjustments a JOIN vends v ON v.vend_id = a.vend_id
   WHERE v.funding = 'account' AND v.last_outbox_seq > ${ACKED} AND IFNULL(v.account_id, '') = unsynced_exposure.account_id), 0);
DELETE FROM unsynced_exposure WHERE cents = 0;

CREATE TRIGGER vend_adjustments_exposure AFTER INSERT ON vend_adjustments
  WHEN EXISTS (SELECT 1 FROM vends v WHERE v.vend_id = NEW.vend_id AND v.funding = 'account' AND v.last_outbox_seq > ${ACKED})
  BEGIN
    INSERT INTO unsynced_exposure (account_id, cents)
      VALUES ((SELECT IFNULL(account_id, '') FROM vends WHERE vend_id = NEW.vend_id), -NEW.amount_cents)
      ON CONFLICT(account_id) DO UPDATE SET cents = cents + excluded.cents;
  END;
`,
};
