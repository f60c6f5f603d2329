// Migration 7: the outbox without the UNIQUE index on id. Nothing looks a record up by its id
// (the uplink reads by seq, the cloud dedupes by gateway and seq; the id is a random UUID, unique
// without help), yet every retired record cost a delete at a random place in that index: an
// ack of 500 records rewrote some 400 index pages (2 ms on tmpfs, 12× the delete from the
// table itself), the largest single cost of draining a backlog. SQLite cannot drop a UNIQUE
// constraint, so the table is rebuilt (same columns, same rows; nothing references it).
import type { Migration } from './migration.js';

export const migration7: Migration = {
  version: 7,
  sql: `
CREATE TABLE outbox_v7 (
  seq        INTEGER PRIMARY KEY,
  id         TEXT NOT NULL,
  type       TEXT NOT NULL,
  money      INTEGER NOT NULL CHECK (money IN (0, 1)),
  created_ms INTEGER NOT NULL,
  payload    TEXT NOT NULL
) STRICT;
INSERT INTO outbox_v7 (seq, id, type, money, created_ms, payload) SELECT seq, id, type, money, created_ms, payload FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v7 RENAME TO outbox;
`,
};
