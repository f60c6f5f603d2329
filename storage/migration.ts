// One schema migration: its number (PRAGMA user_version after it) and its SQL. In its own file so
// that each migration-N file and the list in migrations.ts import it without importing each other.
export interface Migration {
  version: number;
  sql: string;
}
