import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { silentLogger } from '../../gateway/core/log.js';
import { openDatabase, readPragmas } from '../../storage/db.js';
import { MIGRATIONS } from '../../storage/migrations.js';
import { openTestLedger, tempDir } from './helpers.js';

/** The schema version after every migration (numbers may skip one another branch holds). */
const LATEST = Math.max(...MIGRATIONS.map((m) => m.version));

test('migrations run from an empty file and a reopen changes nothing', () => {
  const t = tempDir();
  try {
    const path = t.file('l.db');
    const a = openTestLedger(path);
    a.setSetting('k', 'v');
    a.close();
    const b = openTestLedger(path);
    assert.equal(b.getSetting('k'), 'v');
    b.close();
    const raw = new Database(path, { readonly: true });
    assert.equal(raw.pragma('user_version', { simple: true }), LATEST);
    raw.close();
  } finally {
    t.cleanup();
  }
});

test('pragmas hold after reopen: WAL, synchronous=FULL (2), foreign keys on', () => {
  const t = tempDir();
  try {
    const path = t.file('l.db');
    for (let i = 0; i < 3; i++) {
      const db = openDatabase({ path, logger: silentLogger() });
      const p = readPragmas(db);
      assert.equal(p.journalMode, 'wal');
      assert.equal(p.synchronous, 2);
      assert.equal(p.foreignKeys, 1);
      assert.equal(p.userVersion, LATEST);
      db.close();
    }
    // A plain reopen of the same WAL file starts at NORMAL (the pitfall the ledger guards against).
    const raw = new Database(path);
    assert.notEqual(raw.pragma('synchronous', { simple: true }), 2);
    raw.close();
  } finally {
    t.cleanup();
  }
});

test('a failing migration leaves the previous schema and version whole', () => {
  const t = tempDir();
  try {
    const path = t.file('l.db');
    const bad = [...MIGRATIONS, { version: LATEST + 1, sql: 'CREATE TABLE extra (x INTEGER); CREATE TABLE extra (x INTEGER);' }];
    assert.throws(() => openDatabase({ path, logger: silentLogger(), migrations: bad }));
    const db = openDatabase({ path, logger: silentLogger() });
    assert.equal(readPragmas(db).userVersion, LATEST);
    assert.deepEqual(db.prepare("SELECT name FROM sqlite_master WHERE name = 'extra'").all(), []);
    db.close();
  } finally {
    t.cleanup();
  }
});

test('a file from a newer schema is refused, not guessed at', () => {
  const t = tempDir();
  try {
    const path = t.file('l.db');
    openTestLedger(path).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${LATEST + 5}`);
    raw.close();
    assert.throws(() => openTestLedger(path), /newer than this build/);
  } finally {
    t.cleanup();
  }
});

test('roomSecret must be a real key', () => {
  const t = tempDir();
  try {
    assert.throws(() => openTestLedger(t.file('l.db'), { roomSecret: Buffer.alloc(4) }), /roomSecret/);
  } finally {
    t.cleanup();
  }
});

test('a file at an older schema version is upgraded in place, data kept', () => {
  const t = tempDir();
  try {
    const path = t.file('l.db');
    const first = MIGRATIONS.slice(0, 1);
    const db = openDatabase({ path, logger: silentLogger(), migrations: first });
    assert.equal(readPragmas(db).userVersion, 1);
    db.prepare("INSERT INTO settings (key, value, updated_ms) VALUES ('kept', 'yes', 0)").run();
    db.close();
    const l = openTestLedger(path);
    try {
      assert.equal(l.getSetting('kept'), 'yes');
      assert.equal(l.hold({ method: 'service', funding: 'none', machineId: 'W1', amountCents: 0, ruleSetVersion: '1', ruleId: 's' }).ok, true);
    } finally {
      l.close();
    }
    const raw = new Database(path, { readonly: true });
    assert.equal(raw.pragma('user_version', { simple: true }), LATEST);
    raw.close();
  } finally {
    t.cleanup();
  }
});
