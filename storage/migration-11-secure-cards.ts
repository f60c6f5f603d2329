// Migration 11: secure cards (docs/secure-cards.md). The card list may mark a UID secure, with
// the highest SUN counter the fleet has seen for it and the key version it was encoded under;
// and the room keeps the highest counter it has accepted per secure UID, keyed like the card
// list by HMAC(roomSecret, uid), so that one SUN message is never spent twice. That row is
// written in the transaction of the vend's hold or decline (storage/secure-cards.ts).
import type { Migration } from './migration.js';

export const migration11: Migration = {
  version: 11,
  sql: `
ALTER TABLE cards ADD COLUMN secure INTEGER NOT NULL DEFAULT 0 CHECK (secure IN (0, 1));
ALTER TABLE cards ADD COLUMN fleet_counter INTEGER CHECK (fleet_counter IS NULL OR fleet_counter BETWEEN 0 AND 16777215);
ALTER TABLE cards ADD COLUMN key_version INTEGER CHECK (key_version IS NULL OR key_version >= 1);

CREATE TABLE sun_counters (
  uid_hash   BLOB PRIMARY KEY,
  counter    INTEGER NOT NULL CHECK (counter BETWEEN 0 AND 16777215),
  updated_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
-- Defence in depth: whatever the code above does, a counter never goes back and is never forgotten.
CREATE TRIGGER sun_counters_only_up BEFORE UPDATE ON sun_counters
  WHEN NEW.counter <= OLD.counter
  BEGIN SELECT RAISE(ABORT, 'a SUN counter only goes up'); END;
CREATE TRIGGER sun_counters_no_delete BEFORE DELETE ON sun_counters
  BEGIN SELECT RAISE(ABORT, 'SUN counters are never deleted'); END;
`,
};
